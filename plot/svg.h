#pragma once
// A small SVG writer: elements written in order, attribute values and text escaped for XML, and
// numbers in a short fixed form. It knows nothing of charts (plot/axis.h and plot.cc draw).
//
// The document it finishes is standalone XML: one <svg> root in the SVG namespace with a fixed
// viewBox, every element closed, every attribute value and text node escaped, no external
// reference (fonts generic).

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hpt::plot {

// `text` made safe as XML character data or an attribute value: & < > " ' written as entities,
// invalid UTF-8 replaced by U+FFFD, and the control characters XML 1.0 forbids (below 0x20 but
// tab, newline and carriage return) replaced by U+FFFD too.
std::string EscapeXml(std::string_view text);

// A coordinate or value for an attribute: at most `decimals` decimals, trailing zeros dropped,
// "-0" written as "0"; a NaN or infinity as "0" (SVG has no spelling for them).
std::string Num(double value, int decimals = 2);

// A value for a label: 4 significant digits, no exponent between 1e-3 and 1e5 ("0.0012", "1500",
// "1e-05", "2.5e+06").
std::string Label(double value);

// A value for a data attribute: the shortest text that reads back as the same double ("0.1",
// "1e-05"); "NaN", "inf" or "-inf" for those.
std::string Exact(double value);

using Attrs = std::vector<std::pair<std::string_view, std::string>>;

class SvgWriter {
 public:
  // Starts the root: <svg xmlns=... viewBox="0 0 W H" width=W height=H ...root_attrs>.
  SvgWriter(int width, int height, const Attrs& root_attrs);

  // <tag attrs> ... until the matching Close().
  void Open(std::string_view tag, const Attrs& attrs = {});
  void Close();
  // <tag attrs/>
  void Leaf(std::string_view tag, const Attrs& attrs);
  // <tag attrs>escaped text</tag>
  void Text(std::string_view tag, const Attrs& attrs, std::string_view text);
  // Closes every open element and the root; returns the document. The writer is spent.
  std::string Finish();

 private:
  void Start(std::string_view tag, const Attrs& attrs);
  std::string out_;
  std::vector<std::string> open_;
};

}  // namespace hpt::plot
