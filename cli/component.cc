#include "cli/component.h"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "cli/client.h"
#include "cli/output.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/file_digest.h"
#include "core/json.h"
#include "store/store.h"

namespace hpt {
namespace {

[[noreturn]] void Bad(const std::string& message) { throw Error(ErrorKind::kInvalidInput, message); }

std::optional<double> Number(const std::string& text) {
  double d = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return d;
}

void CheckUnique(std::set<std::string>& seen, const std::string& flag, const std::string& name) {
  if (!seen.insert(name).second) Bad(flag + ": '" + name + "' is given twice");
}

// An artifact from --input/--output NAME=PATH_OR_URI: a URI of a known scheme is kept as given;
// anything else is a local file, recorded by absolute path with its size and SHA-256.
Artifact ArtifactOf(const std::string& flag, const std::string& text, ArtifactDirection direction) {
  auto [name, location] = SplitNameValue(flag, text);
  if (location.empty()) Bad(flag + " " + name + ": the path or URI is empty");
  Artifact a;
  a.name = name;
  a.direction = direction;
  if (LooksLikeUri(location)) {
    if (!IsArtifactUri(location)) Bad(flag + " " + name + ": '" + location + "' is not a file path or an s3://, gs://, http:// or https:// URI");
    a.location = location;
    return a;
  }
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(location, ec);
  a.location = ec ? location : absolute.lexically_normal().string();
  try {
    const FileDigest digest = DigestFile(a.location);
    a.size = digest.size;
    a.sha256 = digest.sha256;
    a.note = digest.note;
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kFailed) throw;
    Bad(flag + " " + name + ": " + e.what());
  }
  return a;
}

void PrintShow(const Json& j, std::ostream& out) {
  out << "component " << j["id"].get<int64_t>() << " " << j["name"].get<std::string>() << " (kind "
      << j["kind"].get<std::string>() << ")\n";
  const auto values = [&](const char* title, const Json& obj) {
    if (obj.empty()) return;
    out << title << ":\n";
    for (const auto& [k, v] : obj.items()) out << "  " << k << " = " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
  };
  values("params", j["params"]);
  values("metrics", j["metrics"]);
  if (!j["artifacts"].empty()) {
    out << "artifacts:\n";
    for (const Json& a : j["artifacts"]) {
      out << "  " << a["direction"].get<std::string>() << " " << a["name"].get<std::string>() << " "
          << a["location"].get<std::string>();
      if (!a["size"].is_null()) out << " size=" << a["size"].get<int64_t>();
      if (!a["sha256"].get<std::string>().empty()) out << " sha256=" << a["sha256"].get<std::string>();
      if (!a["note"].get<std::string>().empty()) out << " (" << a["note"].get<std::string>() << ")";
      out << "\n";
    }
  }
  out << "experiments:" << (j["experiments"].empty() ? " none" : "") << "\n";
  for (const Json& e : j["experiments"]) {
    out << "  " << e["id"].get<int64_t>() << " " << e["name"].get<std::string>() << " (" << e["trials"].get<int64_t>()
        << " trials)\n";
  }
  out << "trials:" << (j["trials"].empty() ? " none" : "") << "\n";
  for (const Json& t : j["trials"]) {
    out << "  " << t["trial"].get<int64_t>() << " experiment " << t["experiment"].get<int64_t>() << " #"
        << t["number"].get<int64_t>() << " " << t["status"].get<std::string>() << "\n";
  }
}

int Create(const ComponentFlags& f, const std::function<ChannelOptions()>& channel) {
  // Every argument is checked, and every file hashed, before the store is opened.
  NewUserComponent c;
  c.name = f.name;
  if (std::string problem = UserComponentNameProblem(f.name); !problem.empty()) Bad("NAME '" + f.name + "': " + problem);
  c.kind = f.kind;
  if (c.kind.empty()) Bad("--kind: may not be empty");
  std::set<std::string> seen;
  for (const std::string& p : f.params) {
    auto [name, value] = SplitNameValue("--param", p);
    CheckUnique(seen, "--param", name);
    c.params.push_back({name, ValueFromText(value)});
  }
  seen.clear();
  for (const std::string& m : f.metrics) {
    auto [name, value] = SplitNameValue("--metric", m);
    CheckUnique(seen, "--metric", name);
    const std::optional<double> number = Number(value);
    if (!number || !std::isfinite(*number)) Bad("--metric " + name + ": '" + value + "' is not a finite number");
    c.metrics.push_back({name, *number});
  }
  seen.clear();
  for (const std::string& a : f.inputs) {
    c.artifacts.push_back(ArtifactOf("--artifact", a, ArtifactDirection::kInput));
    CheckUnique(seen, "--artifact/--output", c.artifacts.back().name);
  }
  for (const std::string& a : f.outputs) {
    c.artifacts.push_back(ArtifactOf("--output", a, ArtifactDirection::kOutput));
    CheckUnique(seen, "--artifact/--output", c.artifacts.back().name);
  }
  c.now = SystemClock().Wall();
  if (f.db.empty()) {
    // Through the coordinator, which writes its store: the files were hashed here, where they
    // are; it checks everything else again as a store file would.
    Network network;
    Client client(network, f.coordinator, channel());
    std::cout << client.Call(CreateComponentRequest{c.name, c.kind, c.params, c.metrics, c.artifacts, c.now})["id"].get<int64_t>() << std::endl;
    return 0;
  }
  // The single writer of the file: refused, naming the holder, while a coordinator holds it.
  std::unique_ptr<Store> store = OpenSqliteStore(StoreOptions{f.db, /*read_only=*/false});
  std::cout << store->CreateUserComponent(c) << std::endl;
  return 0;
}

}  // namespace

std::pair<std::string, std::string> SplitNameValue(const std::string& flag, const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) Bad(flag + ": expected NAME=VALUE, got '" + text + "'");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

void AddComponentCommands(CLI::App& app, ComponentFlags& f) {
  f.group = app.add_subcommand("component", "Components you make (a dataset, a model) and their lineage");
  f.group->require_subcommand(1);
  const auto common = [&](CLI::App* cmd, const char* db_help) {
    auto* db = cmd->add_option("--db", f.db, db_help);
    auto* coordinator = cmd->add_option("--coordinator", f.coordinator,
                                        "Coordinator endpoint, when no --db (default $HPT_COORDINATOR or "
                                        "tcp://127.0.0.1:5555)");
    db->excludes(coordinator);
  };
  f.create = f.group->add_subcommand("create", "Record a component that belongs to no trial yet; prints its id");
  f.create->add_option("name", f.name, "Its name: letters, digits, '.', '_', '-' (not all digits)")->required();
  f.create->add_option("--kind", f.kind, "What it is: dataset, model, ... (your choice)")->required();
  f.create->add_option("--param", f.params, "NAME=VALUE, repeatable");
  f.create->add_option("--metric", f.metrics, "NAME=NUMBER, repeatable");
  f.create->add_option("--artifact", f.inputs,
                       "NAME=PATH_OR_URI, an input, repeatable: a file gets its size and SHA-256; an s3://, gs://, "
                       "http(s):// URI is kept as given");
  f.create->add_option("--output", f.outputs, "NAME=PATH_OR_URI, an output artifact, repeatable");
  common(f.create, "The store file to write (its single writer while no coordinator holds it)");
  f.show = f.group->add_subcommand("show", "A component with every trial and experiment linked to it");
  f.show->add_option("component", f.name, "Its name or id")->required();
  common(f.show, "Read this SQLite file directly");
  f.show->add_option("--format", f.format, "table | json")->capture_default_str()->check(CLI::IsMember({"table", "json"}));
  f.list = f.group->add_subcommand("list", "All components you made");
  common(f.list, "Read this SQLite file directly");
  f.list->add_option("--format", f.format, "table | json")->capture_default_str()->check(CLI::IsMember({"table", "json"}));
}

int RunComponentCommand(const ComponentFlags& f, const std::function<ChannelOptions()>& channel) {
  if (*f.create) return Create(f, channel);
  // Reads: the store file read-only with --db, else the coordinator's answer to the same query
  // (store/query.h), so both print the same document.
  Network network;
  const std::unique_ptr<QuerySource> source =
      f.db.empty() ? CoordinatorSource(network, f.coordinator, channel()) : StoreSource(f.db);
  if (*f.show) {
    const Json j = source->Query(Query{QueryKind::kComponent, "", 0, 0, f.name});
    if (f.format == "json") std::cout << j.dump(2) << "\n";
    else PrintShow(j, std::cout);
    return 0;
  }
  const Json all = source->Query(Query{QueryKind::kComponents, "", 0, 0});
  if (f.format == "json") {
    std::cout << all.dump(2) << "\n";
    return 0;
  }
  std::cout << "id\tname\tkind\tartifacts\ttrials\n";
  for (const Json& c : all) {
    std::cout << c["id"].get<int64_t>() << "\t" << c["name"].get<std::string>() << "\t" << c["kind"].get<std::string>()
              << "\t" << c["artifacts"].size() << "\t" << c["trials"].get<int64_t>() << "\n";
  }
  return 0;
}

}  // namespace hpt
