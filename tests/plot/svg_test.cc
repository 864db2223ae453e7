#include <doctest/doctest.h>

#include <string>

#include "plot/series.h"
#include "plot/svg.h"
#include "tests/plot/plot_fixtures.h"

namespace hpt::plot {
namespace {

using hpt::testing::WellFormedProblem;

TEST_CASE("svg: text and attribute values are escaped, invalid UTF-8 and forbidden controls replaced") {
  CHECK(EscapeXml("a<b&c>\"d'") == "a&lt;b&amp;c&gt;&quot;d&apos;");
  CHECK(EscapeXml("ok\x01" "x") == "ok\xEF\xBF\xBDx");
  CHECK(EscapeXml("bad\xFF") == "bad\xEF\xBF\xBD");
  CHECK(EscapeXml("tab\tnl\n") == "tab\tnl\n");
}

TEST_CASE("svg: numbers are short, and never NaN or -0") {
  CHECK(Num(1.2345) == "1.23");
  CHECK(Num(2.0) == "2");
  CHECK(Num(-0.001) == "0");
  CHECK(Num(std::nan("")) == "0");
  CHECK(Label(0.001234) == "0.001234");
  CHECK(Label(1e-5) == "1e-05");
  CHECK(Label(1500) == "1500");
  CHECK(Exact(0.1) == "0.1");
  CHECK(std::stod(Exact(1.0 / 3)) == 1.0 / 3);  // data attributes read back exactly
  CHECK(Exact(-2.5e-7) == "-2.5e-07");
}

TEST_CASE("svg: the writer closes what it opened, in order, under one svg root with a viewBox") {
  SvgWriter svg(300, 200, {{"class", "hpt-plot"}});
  svg.Open("g", {{"data-param", "x<&\"y"}});
  svg.Text("text", {}, "1 < 2 & 3");
  svg.Open("g");
  std::string doc = svg.Finish();
  CHECK(WellFormedProblem(doc) == "");
  CHECK(doc.find("xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
  CHECK(doc.find("viewBox=\"0 0 300 200\"") != std::string::npos);
  CHECK(doc.find("data-param=\"x&lt;&amp;&quot;y\"") != std::string::npos);
  // The checker itself refuses what is broken.
  CHECK(WellFormedProblem("<svg><g></svg>") != "");
  CHECK(WellFormedProblem("<svg>a & b</svg>") != "");
  CHECK(WellFormedProblem("<svg a=\"<\"/>") != "");
}

TEST_CASE("downsampling: all marks when they fit; else max_marks of them with every kept index") {
  CHECK(Downsample(5, 10, std::vector<size_t>{}).size() == 5);
  const std::vector<size_t> keep = {0, 3, 777, 999};
  const auto chosen = Downsample(1000, 50, keep);
  CHECK(chosen.size() == 50);
  for (const size_t k : keep) CHECK(std::binary_search(chosen.begin(), chosen.end(), k));
  CHECK(std::is_sorted(chosen.begin(), chosen.end()));
  CHECK(chosen == Downsample(1000, 50, keep));  // deterministic
  // Spread over the whole sequence, not the first 50.
  CHECK(chosen[chosen.size() / 2] > 300);
  CHECK(chosen[chosen.size() / 2] < 700);
}

TEST_CASE("downsampling: the must-keep set is first, last, best for the goal, lowest and highest") {
  const std::vector<std::optional<double>> v = {std::nullopt, 5.0, 1.0, 9.0, std::nullopt, 3.0, std::nullopt};
  CHECK(MustKeep(v, Goal::kMaximize) == std::vector<size_t>{0, 2, 3, 6});
  CHECK(MustKeep(v, Goal::kMinimize) == std::vector<size_t>{0, 2, 3, 6});
  const std::vector<std::optional<double>> w = {4.0, 2.0, 8.0, 6.0, 5.0};
  CHECK(MustKeep(w, Goal::kMaximize) == std::vector<size_t>{0, 1, 2, 4});
}

}  // namespace
}  // namespace hpt::plot
