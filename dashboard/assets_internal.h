#pragma once
// The files of dashboard/assets/, compiled into the binary (embed_assets.cmake writes
// assets.cc from them at build time; docs/dashboard.md says why).

#include <string_view>

namespace hpt::dashboard_internal {

struct Asset {
  std::string_view name;  // the file name: "style.css"
  std::string_view content_type;
  std::string_view data;
};

// The asset with this file name, or null.
const Asset* FindAsset(std::string_view name);

}  // namespace hpt::dashboard_internal
