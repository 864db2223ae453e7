#include "plot/svg.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/types.h"

namespace hpt::plot {

std::string EscapeXml(std::string_view text) {
  const std::string valid = ToValidUtf8(text);
  std::string out;
  out.reserve(valid.size());
  for (const char c : valid) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += "\xEF\xBF\xBD";
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string Num(double value, int decimals) {
  if (!std::isfinite(value)) return "0";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  std::string s = buffer;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string Label(double value) {
  if (!std::isfinite(value)) return std::isnan(value) ? "NaN" : (value > 0 ? "inf" : "-inf");
  char buffer[64];
  const double a = std::fabs(value);
  if (a != 0 && (a < 1e-3 || a >= 1e5)) {
    std::snprintf(buffer, sizeof buffer, "%.3g", value);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.4g", value);
  }
  std::string s = buffer;
  return s == "-0" ? "0" : s;
}

std::string Exact(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

SvgWriter::SvgWriter(int width, int height, const Attrs& root_attrs) {
  out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  Attrs attrs = {{"xmlns", "http://www.w3.org/2000/svg"},
                 {"viewBox", "0 0 " + std::to_string(width) + " " + std::to_string(height)},
                 {"width", std::to_string(width)},
                 {"height", std::to_string(height)}};
  attrs.insert(attrs.end(), root_attrs.begin(), root_attrs.end());
  Open("svg", attrs);
}

void SvgWriter::Start(std::string_view tag, const Attrs& attrs) {
  out_ += '<';
  out_ += tag;
  for (const auto& [name, value] : attrs) {
    out_ += ' ';
    out_ += name;
    out_ += "=\"";
    out_ += EscapeXml(value);
    out_ += '"';
  }
}

void SvgWriter::Open(std::string_view tag, const Attrs& attrs) {
  Start(tag, attrs);
  out_ += ">\n";
  open_.emplace_back(tag);
}

void SvgWriter::Close() {
  if (open_.empty()) return;
  out_ += "</" + open_.back() + ">\n";
  open_.pop_back();
}

void SvgWriter::Leaf(std::string_view tag, const Attrs& attrs) {
  Start(tag, attrs);
  out_ += "/>\n";
}

void SvgWriter::Text(std::string_view tag, const Attrs& attrs, std::string_view text) {
  Start(tag, attrs);
  out_ += '>';
  out_ += EscapeXml(text);
  out_ += "</";
  out_ += tag;
  out_ += ">\n";
}

std::string SvgWriter::Finish() {
  while (!open_.empty()) Close();
  return std::move(out_);
}

}  // namespace hpt::plot
