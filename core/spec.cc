// The spec parser and writer: walks the YAML document along the field table (spec_fields.cc),
// converts and checks each value, then runs the checks that span several fields; ToYaml walks the
// same table the other way. yaml-cpp stays in this file.

#include "core/spec.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <type_traits>
#include <variant>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include "core/command.h"
#include "core/spec_fields_internal.h"

namespace hpt {
namespace {

namespace sf = spec_fields;

// Optimal string alignment distance: edits plus adjacent transpositions, each costing 1.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// " (did you mean 'x'?)" for the closest candidate when it is close enough to be a typo, else "".
template <typename Names>
std::string DidYouMean(std::string_view word, const Names& candidates) {
  const size_t threshold = std::max<size_t>(2, word.size() / 3);
  std::string best;
  size_t best_distance = threshold + 1;
  for (const auto& candidate : candidates) {
    const size_t distance = EditDistance(word, candidate);
    if (distance < best_distance && distance < std::max(word.size(), std::size(candidate))) {
      best = std::string(candidate);
      best_distance = distance;
    }
  }
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

template <typename Names>
std::string JoinNames(const Names& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string_view WithoutSign(std::string_view s) {
  return !s.empty() && (s[0] == '+' || s[0] == '-') ? s.substr(1) : s;
}

// [-+]?[0-9]+, the YAML 1.2 core schema integer (decimal only).
bool IsIntSyntax(std::string_view s) { return IsDigits(WithoutSign(s)); }

std::optional<int64_t> ParseInt(std::string_view s) {
  if (!IsIntSyntax(s)) return std::nullopt;
  if (s[0] == '+') s.remove_prefix(1);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, the core schema float without .inf/.nan.
bool IsNumberSyntax(std::string_view s) {
  s = WithoutSign(s);
  const size_t e = s.find_first_of("eE");
  const std::string_view mantissa = s.substr(0, e);
  if (e != std::string_view::npos && !IsDigits(WithoutSign(s.substr(e + 1)))) return false;
  const size_t dot = mantissa.find('.');
  if (dot == std::string_view::npos) return IsDigits(mantissa);
  const std::string_view whole = mantissa.substr(0, dot);
  const std::string_view fraction = mantissa.substr(dot + 1);
  return (whole.empty() || IsDigits(whole)) && (fraction.empty() || IsDigits(fraction)) &&
         !(whole.empty() && fraction.empty());
}

std::optional<double> ParseNumber(std::string_view s) {
  if (!IsNumberSyntax(s)) return std::nullopt;
  if (s[0] == '+') s.remove_prefix(1);
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<bool> ParseBool(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

// A string that a YAML reader would take for something else when written plain: null, a boolean
// (in any YAML version's spelling), or a number. ToYaml quotes these.
bool LooksTyped(std::string_view s) {
  static const std::set<std::string, std::less<>> kWords = {
      "~",   "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
      "yes", "Yes",  "YES",  "no",   "No",   "NO",   "on",   "On",    "ON",    "off",
      "Off", "OFF",  "y",    "Y",    "n",    "N"};
  return s.empty() || kWords.contains(s) || IsNumberSyntax(s) ||
         (!s.empty() && (s[0] == '.' || s[0] == '+' || s[0] == '-') && s.size() > 1 &&
          (s[1] == '.' || (s[1] >= '0' && s[1] <= '9') || s[1] == 'i' || s[1] == 'I' ||
           s[1] == 'n' || s[1] == 'N'));
}

// Shortest text that reads back as the same double, and as a double, not an integer.
std::string FloatLiteral(double d) {
  std::string s = FormatValue(d);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

sf::Mark ToMark(const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

bool IsPlain(const YAML::Node& node) { return node.Tag() == "?"; }

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Scalar:
      return (IsPlain(node) ? "'" : "the string '") + node.Scalar() + "'";
    default: return "nothing";
  }
}

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string Item(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

// True when the text holds more than a few YAML documents. yaml-cpp 0.7 (Debian bookworm)
// YAML::LoadAll loops forever, allocating, on some text whose top level holds a token no node
// starts with (`"",`; upstream jbeder/yaml-cpp#1040): counting documents with an event handler
// first, and stopping at a cap, keeps ParseSpec from hanging the coordinator.
bool TooManyDocuments(const std::string& text) {
  struct Ignore : YAML::EventHandler {
    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  } ignore;
  std::istringstream in(text);
  try {
    YAML::Parser parser(in);
    for (int documents = 0; parser.HandleNextDocument(ignore);) {
      if (++documents > 8) return true;
    }
  } catch (const YAML::Exception&) {
    // LoadAll reports the syntax error with its mark.
  }
  return false;
}

// One parse: the draft, what was written where, and the problems found.
// The size is unknown (nullopt) when the spec was read only up to one byte past the cap.
std::string TooLarge(std::optional<size_t> size) {
  return "the spec is " + (size ? std::to_string(*size) + " bytes, " : std::string()) + "more than the " +
         std::to_string(kMaxSpecBytes >> 20) + " MiB (" + std::to_string(kMaxSpecBytes) +
         " bytes) a spec may be";
}

class Parser {
 public:
  explicit Parser(std::string file) : file_(std::move(file)) {}

  Spec Parse(const std::string& text) {
    if (text.size() > kMaxSpecBytes) {
      Fail({}, "", TooLarge(text.size()));
      Throw();
    }
    // Strings of a spec end up in JSON and on command lines, and must read back unchanged from
    // the normalized YAML: the text must be UTF-8.
    if (const size_t valid = ValidUtf8Prefix(text); valid < text.size()) {
      const std::string before = text.substr(0, valid);
      const int line = 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
      const size_t line_start = before.rfind('\n');
      const int column = static_cast<int>(valid - (line_start == std::string::npos ? 0 : line_start + 1)) + 1;
      char byte[8];
      std::snprintf(byte, sizeof(byte), "0x%02x", static_cast<unsigned char>(text[valid]));
      Fail({line, column}, "", std::string("the spec is not valid UTF-8 (byte ") + byte + ")");
      Throw();
    }
    if (TooManyDocuments(text)) {
      Fail({1, 1}, "", "YAML syntax error: this text does not parse as one YAML document");
      Throw();
    }
    std::vector<YAML::Node> documents;
    try {
      documents = YAML::LoadAll(text);
    } catch (const YAML::Exception& e) {
      Fail(ToMark(e.mark), "", "YAML syntax error: " + e.msg);
      Throw();
    }
    if (documents.empty() || documents[0].IsNull()) {
      Fail({1, 1}, "", "the spec is empty");
      Throw();
    }
    if (documents.size() > 1) {
      Fail(ToMark(documents[1].Mark()), "", "a spec file holds one YAML document, found more");
    }
    const YAML::Node& root = documents[0];
    if (!root.IsMap()) {
      Fail(ToMark(root.Mark()), "", "a spec is a map of fields, got " + Describe(root));
      Throw();
    }
    try {
      root_mark_ = ToMark(root.Mark());
      WalkMap(root, root_mark_, "", "");
      Finish();
    } catch (const YAML::Exception& e) {
      Fail(ToMark(e.mark), "", e.msg);
    }
    if (!diagnostics_.empty()) Throw();
    return std::move(draft_.spec);
  }

 private:
  void Fail(sf::Mark mark, std::string field, std::string message) {
    diagnostics_.push_back({file_, mark.line, mark.column, std::move(field), std::move(message)});
  }

  [[noreturn]] void Throw() {
    // Document order reads best; problems without a position go last.
    const auto key = [](const SpecDiagnostic& d) {
      return std::pair(d.line == 0 ? INT_MAX : d.line, d.column);
    };
    std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                     [&](const auto& a, const auto& b) { return key(a) < key(b); });
    throw SpecError(std::move(diagnostics_));
  }

  bool Present(const std::string& path) const { return present_.contains(path); }
  bool Ok(const std::string& path) const { return Present(path) && !invalid_.contains(path); }
  sf::Mark At(const std::string& path) const {
    const auto it = present_.find(path);
    return it == present_.end() ? sf::Mark{} : it->second;
  }

  // Visits the keys of `node` (a map, or null for an absent section) against the table's
  // children of `table_path`, then applies defaults and reports missing required fields.
  void WalkMap(const YAML::Node& node, sf::Mark mark, const std::string& table_path,
               const std::string& path) {
    const std::vector<const sf::FieldDef*>& children = sf::ChildrenOf(table_path);
    const auto name_of = [](const sf::FieldDef* f) { return sf::KeyOf(*f); };
    std::set<std::string, std::less<>> seen;
    if (node.IsMap()) {
      for (const auto& entry : node) {
        const YAML::Node& key = entry.first;
        const YAML::Node& value = entry.second;
        const sf::Mark key_mark = ToMark(key.Mark());
        if (!key.IsScalar()) {
          Fail(key_mark, path, "keys must be names, got " + Describe(key));
          continue;
        }
        const std::string field = Join(path, key.Scalar());
        if (!seen.insert(key.Scalar()).second) {
          Fail(key_mark, field, "appears more than once");
          continue;
        }
        const auto def = std::find_if(children.begin(), children.end(),
                                      [&](const sf::FieldDef* f) { return name_of(f) == key.Scalar(); });
        if (def == children.end()) {
          std::vector<std::string_view> names;
          for (const sf::FieldDef* f : children) names.push_back(name_of(f));
          Fail(key_mark, field, "unknown key" + DidYouMean(key.Scalar(), names));
          continue;
        }
        // An empty value's own mark points past the line; the key is where the user looks.
        Visit(**def, value, value.IsNull() ? key_mark : ToMark(value.Mark()), field, false);
      }
    }
    for (const sf::FieldDef* f : children) {
      const std::string_view name = name_of(f);
      if (seen.contains(name)) continue;
      const std::string field = Join(path, name);
      if (f->required) {
        Fail(mark, field, "is required");
      } else if (!f->default_yaml.empty()) {
        Visit(*f, YAML::Load(std::string(f->default_yaml)), {}, field, true);
      } else if (f->kind == sf::FieldKind::kMap && !HasRequiredChild(*f)) {
        // An optional map with required fields (`objective`, which `objectives` may replace) is
        // absent as a whole; Finish checks that one of them is there.
        WalkMap(YAML::Node(), {}, std::string(f->path), field);
      }
    }
  }

  static bool HasRequiredChild(const sf::FieldDef& map) {
    const std::vector<const sf::FieldDef*>& children = sf::ChildrenOf(map.path);
    return std::any_of(children.begin(), children.end(), [](const sf::FieldDef* f) { return f->required; });
  }

  void Visit(const sf::FieldDef& def, const YAML::Node& node, sf::Mark mark,
             const std::string& path, bool is_default) {
    if (!is_default) present_[path] = mark;
    const auto reject = [&](const std::string& message) {
      Fail(mark, path, message);
      invalid_.insert(path);
    };
    sf::FieldValue value;
    value.mark = mark;
    if (def.kind == sf::FieldKind::kMap) {
      if (!node.IsMap() && !node.IsNull()) return reject("must be a map, got " + Describe(node));
      WalkMap(node, mark, std::string(def.path), path);
      return;
    }
    if (def.kind == sf::FieldKind::kMapList) {
      if (!node.IsSequence() && !node.IsNull()) return reject("must be a list, got " + Describe(node));
      value.count = node.IsSequence() ? node.size() : 0;
      if (def.check) {
        if (auto problem = def.check(value)) return reject(*problem);
      }
      size_t index = 0;
      for (const YAML::Node& item : node) {
        const std::string item_path = Item(path, index++);
        const sf::Mark item_mark = item.IsNull() ? mark : ToMark(item.Mark());
        present_[item_path] = item_mark;
        // Stored before the item is checked, so that draft items line up with list indexes.
        def.store(draft_, value);
        if (!item.IsMap()) {
          Fail(item_mark, item_path, "must be a map, got " + Describe(item));
          invalid_.insert(item_path);
          continue;
        }
        WalkMap(item, item_mark, std::string(def.path) + "[]", item_path);
      }
      return;
    }
    if (!Convert(def, node, mark, path, value)) {
      invalid_.insert(path);
      return;
    }
    if (def.check) {
      if (auto problem = def.check(value)) return reject(*problem);
    }
    if (def.store) def.store(draft_, value);
  }

  // Converts a scalar-like field; reports and returns false when the YAML has the wrong shape.
  bool Convert(const sf::FieldDef& def, const YAML::Node& node, sf::Mark mark,
               const std::string& path, sf::FieldValue& value) {
    const auto fail = [&](const std::string& message) {
      Fail(mark, path, message);
      return false;
    };
    const bool plain = node.IsScalar() && IsPlain(node);
    switch (def.kind) {
      case sf::FieldKind::kString:
        if (!node.IsScalar()) return fail("must be a string, got " + Describe(node));
        value.text = node.Scalar();
        return true;
      case sf::FieldKind::kEnum: {
        if (!node.IsScalar()) {
          return fail("must be one of " + JoinNames(def.choices) + ", got " + Describe(node));
        }
        value.text = node.Scalar();
        const auto is = [&](std::string_view c) { return c == value.text; };
        if (std::any_of(def.choices.begin(), def.choices.end(), is)) return true;
        if (std::any_of(def.not_yet.begin(), def.not_yet.end(), is)) {
          return fail("'" + value.text + "' is not available yet (available: " +
                      JoinNames(def.choices) + ")");
        }
        std::vector<std::string_view> known = def.choices;
        known.insert(known.end(), def.not_yet.begin(), def.not_yet.end());
        return fail("'" + value.text + "' is not one of " + JoinNames(def.choices) +
                    DidYouMean(value.text, known));
      }
      case sf::FieldKind::kInt: {
        if (plain && IsIntSyntax(node.Scalar())) {
          const auto n = ParseInt(node.Scalar());
          if (!n) return fail("integer " + node.Scalar() + " is out of range");
          value.integer = *n;
          value.number = static_cast<double>(*n);
          return true;
        }
        return fail("must be an integer, got " + Describe(node));
      }
      case sf::FieldKind::kNumber: {
        const auto d = plain ? ParseNumber(node.Scalar()) : std::nullopt;
        if (!d) return fail("must be a number, got " + Describe(node));
        value.number = *d;
        return true;
      }
      case sf::FieldKind::kBool: {
        const std::optional<bool> b = plain ? ParseBool(node.Scalar()) : std::nullopt;
        if (!b) return fail("must be true or false, got " + Describe(node));
        value.boolean = *b;
        return true;
      }
      case sf::FieldKind::kDuration: {
        if (!node.IsScalar()) return fail("must be a duration, got " + Describe(node));
        const std::string& text = node.Scalar();
        std::optional<double> seconds = plain ? ParseNumber(text) : std::nullopt;
        if (seconds && *seconds < 0) return fail("must not be negative, got " + text);
        if (!seconds) seconds = ParseDuration(text);
        if (!seconds) {
          return fail("must be a duration: seconds, or like '90s', '15m', '2h', '1h30m', "
                      "'1.5h', '1d'; got " + Describe(node));
        }
        value.number = *seconds;
        return true;
      }
      case sf::FieldKind::kStringList: {
        if (!node.IsSequence() && !node.IsNull()) {
          return fail("must be a list of strings, got " + Describe(node));
        }
        bool ok = true;
        size_t index = 0;
        for (const YAML::Node& item : node) {
          const std::string item_path = Item(path, index++);
          const sf::Mark item_mark = item.IsNull() ? mark : ToMark(item.Mark());
          present_[item_path] = item_mark;
          if (!item.IsScalar()) {
            Fail(item_mark, item_path, "must be a string, got " + Describe(item));
            ok = false;
            continue;
          }
          value.strings.push_back(item.Scalar());
        }
        return ok;
      }
      case sf::FieldKind::kScalarList: {
        if (!node.IsSequence() && !node.IsNull()) return fail("must be a list, got " + Describe(node));
        bool ok = true;
        size_t index = 0;
        for (const YAML::Node& item : node) {
          const std::string item_path = Item(path, index++);
          const sf::Mark item_mark = item.IsNull() ? mark : ToMark(item.Mark());
          present_[item_path] = item_mark;
          const std::optional<Value> scalar = TypedScalar(item, item_mark, item_path, /*booleans=*/false);
          if (!scalar) {
            ok = false;
          } else {
            // Without booleans, a scalar is one of ParamValue's alternatives.
            value.scalars.push_back(AsParamValue(std::move(*scalar)));
          }
        }
        return ok;
      }
      case sf::FieldKind::kScalarMap: {
        if (!node.IsMap() && !node.IsNull()) return fail("must be a map, got " + Describe(node));
        return ReadScalarMap(node, path, /*booleans=*/true, value.values);
      }
      case sf::FieldKind::kConditions: {
        if (!node.IsMap() && !node.IsNull()) {
          return fail("must be a map from parameter names to a value or a list of values, got " + Describe(node));
        }
        bool ok = true;
        for (const auto& entry : node) {
          const sf::Mark key_mark = ToMark(entry.first.Mark());
          const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "";
          const std::string field = Join(path, key);
          if (!sf::IsParamName(key)) {
            Fail(key_mark, field, "'" + key + "' is not a parameter name");
            ok = false;
            continue;
          }
          const auto same = [&](const ParamCondition& c) { return c.parent == key; };
          if (std::any_of(value.conditions.begin(), value.conditions.end(), same)) {
            Fail(key_mark, field, "appears more than once");
            ok = false;
            continue;
          }
          present_[field] = key_mark;
          ParamCondition condition{key, {}};
          const YAML::Node& item = entry.second;
          const sf::Mark item_mark = item.IsNull() ? key_mark : ToMark(item.Mark());
          std::vector<YAML::Node> scalars;
          if (item.IsSequence()) {
            for (const YAML::Node& v : item) scalars.push_back(v);
            if (scalars.empty()) {
              Fail(item_mark, field, "lists no value");
              ok = false;
            }
          } else {
            scalars.push_back(item);
          }
          for (const YAML::Node& v : scalars) {
            std::optional<Value> scalar = TypedScalar(v, v.IsNull() ? item_mark : ToMark(v.Mark()), field, false);
            if (!scalar) {
              ok = false;
              continue;
            }
            condition.values.push_back(AsParamValue(std::move(*scalar)));
          }
          value.conditions.push_back(std::move(condition));
        }
        return ok;
      }
      case sf::FieldKind::kScalarMapList: {
        if (!node.IsSequence() && !node.IsNull()) return fail("must be a list of maps, got " + Describe(node));
        bool ok = true;
        size_t index = 0;
        for (const YAML::Node& item : node) {
          const std::string item_path = Item(path, index++);
          const sf::Mark item_mark = item.IsNull() ? mark : ToMark(item.Mark());
          present_[item_path] = item_mark;
          NamedValues values;
          if (!item.IsMap()) {
            Fail(item_mark, item_path, "must be a map from parameter names to values, got " + Describe(item));
            ok = false;
          } else {
            ok = ReadScalarMap(item, item_path, /*booleans=*/false, values) && ok;
          }
          value.maps.push_back(std::move(values));
        }
        return ok;
      }
      case sf::FieldKind::kMap:
      case sf::FieldKind::kMapList: break;  // handled by Visit
    }
    return fail("internal: unhandled field kind");
  }

  // A map from free keys (parameter-like names, each once) to typed scalars, into `out`; reports
  // each bad entry and returns false when there was one.
  bool ReadScalarMap(const YAML::Node& node, const std::string& path, bool booleans, NamedValues& out) {
    out.clear();
    bool ok = true;
    for (const auto& entry : node) {
      const sf::Mark key_mark = ToMark(entry.first.Mark());
      const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "";
      const std::string field = Join(path, key);
      if (!sf::IsParamName(key)) {
        Fail(key_mark, field, "'" + key + "' is not a valid key (a letter or _, then letters, digits, _ . -)");
        ok = false;
        continue;
      }
      if (FindValue(out, key) != nullptr) {
        Fail(key_mark, field, "appears more than once");
        ok = false;
        continue;
      }
      present_[field] = key_mark;
      const YAML::Node& item = entry.second;
      std::optional<Value> scalar = TypedScalar(item, item.IsNull() ? key_mark : ToMark(item.Mark()), field, booleans);
      if (!scalar) {
        ok = false;
        continue;
      }
      out.push_back({key, std::move(*scalar)});
    }
    return ok;
  }

  // A scalar read without booleans as a parameter value ("true" stays the text it was).
  static ParamValue AsParamValue(Value scalar) {
    if (auto* b = std::get_if<bool>(&scalar)) return std::string(*b ? "true" : "false");
    if (auto* n = std::get_if<int64_t>(&scalar)) return *n;
    if (auto* d = std::get_if<double>(&scalar)) return *d;
    return std::get<std::string>(std::move(scalar));
  }

  // A plain integer, decimal or (with `booleans`) boolean keeps its type; everything else,
  // including anything quoted, is a string.
  std::optional<Value> TypedScalar(const YAML::Node& node, sf::Mark mark, const std::string& path,
                                   bool booleans) {
    if (!node.IsScalar()) {
      Fail(mark, path,
           std::string(booleans ? "must be a string, number or boolean" : "must be a string or number") +
               ", got " + Describe(node));
      return std::nullopt;
    }
    const std::string& text = node.Scalar();
    if (IsPlain(node)) {
      if (IsIntSyntax(text)) {
        const auto n = ParseInt(text);
        if (!n) {
          Fail(mark, path, "integer " + text + " is out of range");
          return std::nullopt;
        }
        return Value(*n);
      }
      if (const auto d = ParseNumber(text)) return Value(*d);
      if (booleans) {
        if (const auto b = ParseBool(text)) return Value(*b);
      }
    }
    return Value(text);
  }

  // The checks that need several fields at once; the table's check_doc states each of them.
  void Finish() {
    Spec& spec = draft_.spec;
    if (!Present("parameters") && spec.strategy.type != StrategyType::kManual) {
      Fail(root_mark_, "parameters", "is required");
    }
    std::map<std::string, size_t, std::less<>> param_of;
    bool names_complete = !invalid_.contains("parameters") && !invalid_.contains("static");
    for (size_t i = 0; i < spec.parameters.size(); ++i) {
      const std::string p = Item("parameters", i);
      if (invalid_.contains(p)) {
        names_complete = false;
        continue;
      }
      const ParamSpec& ps = spec.parameters[i];
      if (Ok(p + ".name")) {
        const auto [it, inserted] = param_of.emplace(ps.name, i);
        if (!inserted) {
          Fail(At(p + ".name"), p + ".name",
               "duplicate parameter name '" + ps.name + "' (also parameters[" +
                   std::to_string(it->second) + "])");
        }
      } else {
        names_complete = false;
      }
      const std::optional<ParamType> type = draft_.params[i].type;
      if (!type) continue;
      if (*type == ParamType::kCategorical) {
        CheckCategorical(p, ps);
      } else {
        CheckNumeric(p, spec.parameters[i], draft_.params[i]);
      }
    }

    CheckConditions(param_of);

    for (const NamedValue& value : spec.static_params) {
      const std::string& key = value.name;
      const std::string field = "static." + key;
      if (const auto it = param_of.find(key); it != param_of.end()) {
        Fail(At(field), field,
             "'" + key + "' is also parameters[" + std::to_string(it->second) +
                 "]; a static value cannot share a parameter's name");
      }
      const auto& builtins = BuiltinPlaceholders();
      if (std::find(builtins.begin(), builtins.end(), key) != builtins.end()) {
        Fail(At(field), field, "'" + key + "' is reserved for the built-in placeholder");
      }
    }

    if (Ok("trial.command")) {
      std::vector<std::string> known = BuiltinPlaceholders();
      for (const auto& [name, unused] : param_of) known.push_back(name);
      for (const NamedValue& value : spec.static_params) known.push_back(value.name);
      for (size_t k = 0; k < spec.trial.command.size(); ++k) {
        const std::string field = Item("trial.command", k);
        try {
          for (const std::string& name : PlaceholdersIn(spec.trial.command[k])) {
            if (names_complete && std::find(known.begin(), known.end(), name) == known.end()) {
              Fail(At(field), field,
                   "placeholder '{" + name + "}' names no parameter, static value or built-in" +
                       DidYouMean(name, known));
            }
          }
        } catch (const Error& e) {
          Fail(At(field), field, e.what());
        }
      }
    }

    std::map<std::string, size_t, std::less<>> metric_of;
    for (size_t j = 0; j < spec.trial.metrics.size(); ++j) {
      const std::string field = Item("trial.metrics", j) + ".name";
      if (!Ok(field)) continue;
      const auto [it, inserted] = metric_of.emplace(spec.trial.metrics[j].name, j);
      if (!inserted) {
        Fail(At(field), field,
             "duplicate metric name '" + it->first + "' (also trial.metrics[" +
                 std::to_string(it->second) + "])");
      }
    }

    CheckObjectives();

    // A strategy.* option applies to the strategies whose row in the strategy table lists it.
    const StrategyInfo& strategy = InfoOf(spec.strategy.type);
    for (const sf::FieldDef& f : sf::SpecFields()) {
      const std::string_view option = sf::StrategyOption(f.path);
      if (option.empty()) continue;
      const std::string field(f.path);
      if (!strategy.Takes(option)) {
        if (Present(field)) {
          Fail(At(field), field, "applies only to strategy.type " + sf::Enumerate(StrategiesTaking(option), "or"));
        }
      } else if (strategy.Requires(option) && !Present(field)) {
        Fail(At("strategy"), field, "required for strategy.type " + std::string(strategy.name));
      }
    }
    // min_resource may be its default: a max_resource below that default is as wrong as a
    // min_resource written above max_resource.
    if (strategy.Takes("max_resource") && Ok("strategy.max_resource") && !invalid_.contains("strategy.min_resource") &&
        spec.strategy.min_resource > spec.strategy.max_resource) {
      if (Present("strategy.min_resource")) {
        Fail(At("strategy.min_resource"), "strategy.min_resource",
             "must not exceed max_resource (" + FormatValue(spec.strategy.max_resource) + "), got " +
                 FormatValue(spec.strategy.min_resource));
      } else {
        Fail(At("strategy.max_resource"), "strategy.max_resource",
             "must be at least min_resource (default " + FormatValue(spec.strategy.min_resource) + "), got " +
                 FormatValue(spec.strategy.max_resource));
      }
    }
    if (spec.early_stopping.type != EarlyStoppingType::kMedian) {
      for (const char* f : {"early_stopping.min_steps", "early_stopping.min_trials"}) {
        if (Present(f)) Fail(At(f), f, "applies only to early_stopping.type median");
      }
    }

    CheckWarmStart();

    // max_trials depends on the strategy, so its default is not in the table.
    if (!diagnostics_.empty()) return;
    CheckInitialPoints();
    if (!diagnostics_.empty()) return;
    const bool given = Present("limits.max_trials");
    const auto initial = static_cast<int64_t>(spec.initial_points.size());
    if (spec.strategy.type == StrategyType::kHyperband && !given) {
      // One full Hyperband iteration: every bracket's starting configurations.
      const double eta = spec.strategy.eta;
      int s_max = 0;
      for (double p = eta; p <= spec.strategy.max_resource / spec.strategy.min_resource * (1 + 1e-12); p *= eta) ++s_max;
      int64_t total = 0;
      for (int b = s_max; b >= 0; --b) {
        total += static_cast<int64_t>(std::ceil(static_cast<double>(s_max + 1) / (b + 1) * std::pow(eta, b) - 1e-9));
      }
      spec.limits.max_trials = total;
    } else if (spec.strategy.type == StrategyType::kGrid) {
      // The initial points run before the grid, which still runs whole.
      uint64_t size = 0;
      try {
        size = SearchSpace(spec.parameters).GridSize();
      } catch (const Error& e) {
        Fail(At("parameters"), "parameters", std::string("a grid search: ") + e.what());
        return;
      }
      const auto cap = static_cast<int64_t>(
          std::min<uint64_t>(size, static_cast<uint64_t>(std::numeric_limits<int64_t>::max() - initial))) + initial;
      if (!given || spec.limits.max_trials > cap) spec.limits.max_trials = cap;
    } else if (!given) {
      spec.limits.max_trials = std::max(sf::kDefaultMaxTrials, initial);
    }
    if (initial > spec.limits.max_trials) {
      Fail(At("initial_points"), "initial_points",
           "lists " + std::to_string(initial) + " points, more than limits.max_trials (" +
               std::to_string(spec.limits.max_trials) + ")");
    }
  }

  // parameters[].when: each parent a categorical or int parameter other than this one, each value
  // one of its values (stored as the parent holds it), and no cycle among the conditions.
  void CheckConditions(const std::map<std::string, size_t, std::less<>>& param_of) {
    Spec& spec = draft_.spec;
    std::vector<std::string> names;
    for (const auto& [name, unused] : param_of) names.push_back(name);
    bool all_known = true;
    for (size_t i = 0; i < spec.parameters.size(); ++i) {
      const std::string p = Item("parameters", i) + ".when";
      if (!Ok(p)) continue;
      ParamSpec& ps = spec.parameters[i];
      for (ParamCondition& c : ps.when) {
        const std::string field = p + "." + c.parent;
        const auto it = param_of.find(c.parent);
        if (c.parent == ps.name) {
          Fail(At(field), field, "a parameter cannot depend on itself");
          all_known = false;
          continue;
        }
        if (it == param_of.end()) {
          Fail(At(field), field, "names no parameter" + DidYouMean(c.parent, names));
          all_known = false;
          continue;
        }
        const std::optional<ParamType> type = draft_.params[it->second].type;
        if (!type || invalid_.contains(Item("parameters", it->second))) continue;
        const ParamSpec& parent = spec.parameters[it->second];
        if (*type == ParamType::kFloat) {
          Fail(At(field), field, "'" + c.parent + "' is a float; a condition's parent must be categorical or int");
          continue;
        }
        for (ParamValue& v : c.values) {
          try {
            // The value as the parent holds it: one of its choices, or an integer in its range.
            ParamSpec alone = parent;
            alone.when.clear();
            const SearchSpace space({alone});
            const Params conformed = space.Conform({{c.parent, v}});
            space.ToUnit(conformed);
            v = conformed.front().value;
          } catch (const Error& e) {
            Fail(At(field), field, std::string(e.what()));
          }
        }
      }
    }
    if (!all_known) return;
    // A cycle: depth first from each parameter, along its parents.
    std::vector<int> state(spec.parameters.size(), 0);  // 0 new, 1 on the path, 2 done
    const auto visit = [&](auto&& self, size_t i) -> bool {
      if (state[i] == 1) return true;
      if (state[i] == 2) return false;
      state[i] = 1;
      for (const ParamCondition& c : spec.parameters[i].when) {
        const auto it = param_of.find(c.parent);
        if (it != param_of.end() && self(self, it->second)) return true;
      }
      state[i] = 2;
      return false;
    };
    for (size_t i = 0; i < spec.parameters.size(); ++i) {
      if (state[i] == 0 && visit(visit, i)) {
        const std::string p = Item("parameters", i) + ".when";
        Fail(At(p), p, "the conditions of '" + spec.parameters[i].name + "' form a cycle");
        return;
      }
    }
  }

  // initial_points: each point holds exactly the parameters active at it, each typed and in range;
  // stored in space order, typed as the space types them.
  void CheckInitialPoints() {
    Spec& spec = draft_.spec;
    if (draft_.initial_points.empty()) return;
    const SearchSpace space(spec.parameters);
    std::vector<std::string> names;
    for (const ParamSpec& p : spec.parameters) names.push_back(p.name);
    for (size_t k = 0; k < draft_.initial_points.size(); ++k) {
      const std::string field = Item("initial_points", k);
      Params given;
      bool ok = true;
      for (const NamedValue& v : draft_.initial_points[k]) {
        if (std::find(names.begin(), names.end(), v.name) == names.end()) {
          const bool is_static = FindValue(spec.static_params, v.name) != nullptr;
          Fail(At(field + "." + v.name), field + "." + v.name,
               is_static ? "'" + v.name + "' is a static value, not a tuned parameter"
                         : "names no parameter" + DidYouMean(v.name, names));
          ok = false;
          continue;
        }
        ParamValue value;
        if (const auto* n = std::get_if<int64_t>(&v.value)) value = *n;
        else if (const auto* d = std::get_if<double>(&v.value)) value = *d;
        else if (const auto* t = std::get_if<std::string>(&v.value)) value = *t;
        given.push_back({v.name, std::move(value)});
      }
      if (!ok) continue;
      try {
        Params point = space.Conform(given);
        for (const Param& g : given) {
          const auto same = [&](const Param& p) { return p.name == g.name; };
          if (std::none_of(point.begin(), point.end(), same)) {
            // ToUnit names the conditions that leave it out.
            Params with = point;
            with.push_back(g);
            space.ToUnit(with);
          }
        }
        space.ToUnit(point);
        spec.initial_points.push_back(std::move(point));
      } catch (const Error& e) {
        Fail(At(field), field, e.what());
      }
    }
  }

  // warm_start: only where a model learns from results, with one objective; each parent once.
  void CheckWarmStart() {
    const Spec& spec = draft_.spec;
    if (!Ok("warm_start.parents")) return;
    std::set<std::string> seen;
    for (size_t k = 0; k < spec.warm_start.parents.size(); ++k) {
      const std::string field = Item("warm_start.parents", k);
      if (!seen.insert(spec.warm_start.parents[k]).second) Fail(At(field), field, "names the same experiment twice");
    }
    const StrategyType type = spec.strategy.type;
    const bool model = type == StrategyType::kBayesian ||
                       ((type == StrategyType::kHyperband || type == StrategyType::kAsha) &&
                        spec.strategy.sampler == StrategyType::kBayesian);
    if (!model) {
      Fail(At("warm_start"), "warm_start",
           "needs a strategy that learns from results: bayesian, or hyperband / asha with sampler bayesian (got " +
               std::string(ToString(type)) + ")");
    }
    if (spec.objectives.size() > 1) {
      Fail(At("warm_start"), "warm_start", "is not available with several objectives yet");
    }
  }

  // `objective` or `objectives`, each metric once among objectives and constraints, constraint
  // bounds, and what several objectives do not work with yet (the table's check_doc says it).
  void CheckObjectives() {
    Spec& spec = draft_.spec;
    const bool one = Present("objective"), several = Present("objectives");
    if (one && several) {
      Fail(At("objectives"), "objectives", "not together with objective (line " +
                                               std::to_string(At("objective").line) +
                                               "): give one objective there, or 2 to " +
                                               std::to_string(sf::kMaxObjectives) + " here");
    } else if (!one && !several) {
      Fail(root_mark_, "objective", "is required (or objectives: with 2 to " + std::to_string(sf::kMaxObjectives) +
                                        " metrics)");
    }
    if (several && Ok("objectives") && !spec.objectives.empty()) spec.objective = spec.objectives.front();

    // Each metric is one objective or one constraint: a second use is an error where it is written.
    std::map<std::string, std::string, std::less<>> used;  // metric -> where it is used first
    const auto use = [&](const std::string& metric, const std::string& field) {
      if (!Ok(field)) return;
      const auto [it, inserted] = used.emplace(metric, field);
      if (!inserted) {
        Fail(At(field), field, "metric '" + metric + "' is already used by " + it->second);
      }
    };
    if (!several && Ok("objective.metric")) use(spec.objective.metric, "objective.metric");
    for (size_t i = 0; i < spec.objectives.size(); ++i) {
      use(spec.objectives[i].metric, Item("objectives", i) + ".metric");
    }
    for (size_t i = 0; i < spec.constraints.size(); ++i) {
      const std::string c = Item("constraints", i);
      use(spec.constraints[i].metric, c + ".metric");
      if (invalid_.contains(c)) continue;
      const Spec::Constraint& k = spec.constraints[i];
      if (!Present(c + ".min") && !Present(c + ".max")) {
        Fail(At(c), c, "needs min, max or both");
      } else if (Ok(c + ".min") && Ok(c + ".max") && *k.min > *k.max) {
        Fail(At(c + ".min"), c + ".min",
             "must not exceed max (" + FormatValue(*k.max) + "), got " + FormatValue(*k.min));
      }
    }

    // objective.noisy: the incumbent is read from a GP over the completed trials' params and
    // values, which has no place yet for trials run at several budgets nor for feasibility.
    if (spec.objective.noisy && Ok("objective.noisy")) {
      const StrategyType type = spec.strategy.type;
      if (Ok("strategy.type") && (type == StrategyType::kHyperband || type == StrategyType::kAsha)) {
        Fail(At("objective.noisy"), "objective.noisy",
             "is not available with strategy.type " + std::string(ToString(type)) +
                 " yet (its trials end at several budgets, and one GP over them all would mix fidelities)");
      }
      if (!spec.constraints.empty()) {
        Fail(At("objective.noisy"), "objective.noisy",
             "is not available with constraints yet (the incumbent would have to be feasible as well as best in "
             "the model)");
      }
    }

    // Several objectives work with the strategies that ignore results (random, sobol, grid) and
    // with bayesian (a GP per objective); the rest need one objective value per trial. A refusal
    // points at the field at fault, or at `objectives` when that field was left at its default.
    if (spec.objectives.size() < 2) return;
    const auto refuse = [&](const std::string& field, const std::string& what, const std::string& why) {
      Fail(Present(field) ? At(field) : At("objectives"), field,
           what + " is not available with several objectives yet (" + why + "; see docs/design.md)");
    };
    const StrategyType type = spec.strategy.type;
    if (Ok("strategy.type") && type != StrategyType::kRandom && type != StrategyType::kSobol &&
        type != StrategyType::kGrid && type != StrategyType::kBayesian) {
      refuse("strategy.type", "'" + std::string(ToString(type)) + "'",
             "it ranks trials by one objective value; use bayesian, random, sobol or grid");
    }
    if (spec.early_stopping.type == EarlyStoppingType::kMedian) {
      refuse("early_stopping.type", "median early stopping", "it compares one objective's values");
    }
    if (Present("completion.target")) refuse("completion.target", "a target", "it is one objective's value");
  }

  void CheckCategorical(const std::string& p, const ParamSpec& ps) {
    for (const char* f : {"min", "max", "scale", "grid_points"}) {
      const std::string field = p + "." + f;
      if (Present(field)) Fail(At(field), field, "applies only to float and int parameters");
    }
    const std::string values = p + ".values";
    if (!Present(values)) {
      Fail(At(p), values, "is required for a categorical parameter");
      return;
    }
    if (!Ok(values)) return;
    // Values that print the same would give trials identical command lines.
    std::map<std::string, size_t> seen;
    for (size_t k = 0; k < ps.choices.size(); ++k) {
      const std::string text = FormatValue(ps.choices[k]);
      const auto [it, inserted] = seen.emplace(text, k);
      if (!inserted) {
        Fail(At(Item(values, k)), Item(values, k),
             "duplicate value '" + text + "' (also values[" + std::to_string(it->second) + "])");
      }
    }
  }

  void CheckNumeric(const std::string& p, ParamSpec& ps, const sf::DraftParam& dp) {
    const bool is_int = ps.type == ParamType::kInt;
    const std::string type_name = is_int ? "an int" : "a float";
    const std::string min_field = p + ".min";
    const std::string max_field = p + ".max";
    if (Present(p + ".values")) {
      Fail(At(p + ".values"), p + ".values", "applies only to categorical parameters");
    }
    if (!is_int && draft_.spec.strategy.type == StrategyType::kGrid &&
        !Present(p + ".grid_points")) {
      Fail(At(p), p + ".grid_points",
           "is required for a float parameter when strategy.type is grid");
    }
    bool have_bounds = true;
    for (const std::string& field : {min_field, max_field}) {
      if (!Present(field)) Fail(At(p), field, "is required for " + type_name + " parameter");
      have_bounds = have_bounds && Ok(field);
    }
    if (!have_bounds) return;

    if (is_int) {
      bool bad = false;
      for (const auto& [field, bound] : {std::pair(min_field, ps.min), std::pair(max_field, ps.max)}) {
        if (std::abs(bound) > sf::kMaxIntBound) {
          Fail(At(field), field, "must lie within -2^53..2^53 for an int parameter");
          bad = true;
        }
      }
      if (bad) return;
      if (ps.min <= ps.max && std::ceil(ps.min) > std::floor(ps.max)) {
        Fail(At(min_field), min_field,
             "range [" + FormatValue(ps.min) + ", " + FormatValue(ps.max) + "] contains no integer");
        return;
      }
      for (const auto& [field, bound] : {std::pair(min_field, ps.min), std::pair(max_field, ps.max)}) {
        if (std::trunc(bound) != bound) {
          Fail(At(field), field,
               "must be an integer for an int parameter, got " + FormatValue(bound));
          bad = true;
        }
      }
      if (bad) return;
    }
    if (ps.min >= ps.max) {
      Fail(At(max_field), max_field,
           ps.min == ps.max
               ? "empty range: min and max are both " + FormatValue(ps.min)
               : "empty range: max (" + FormatValue(ps.max) + ") is less than min (" +
                     FormatValue(ps.min) + ")");
      return;
    }

    if (dp.scale == "log") {
      ps.scale = Scale::kLog;
    } else if (dp.scale == "reverse_log") {
      ps.scale = Scale::kReverseLog;
    } else if (dp.scale == "linear") {
      ps.scale = Scale::kLinear;
    } else {
      ps.scale = ps.min > 0 && ps.max / ps.min >= 100 ? Scale::kLog : Scale::kLinear;
    }
    if (ps.scale == Scale::kLog && ps.min <= 0) {
      Fail(At(min_field), min_field,
           is_int ? "log scale needs min >= 1 for an int parameter, got " + FormatValue(ps.min)
                  : "log scale needs min > 0, got " + FormatValue(ps.min));
    }
    if (ps.scale == Scale::kReverseLog) {
      if (is_int) {
        Fail(At(p + ".scale"), p + ".scale", "reverse_log applies only to float parameters");
      } else {
        if (ps.min < 0) {
          Fail(At(min_field), min_field,
               "reverse_log scale needs min >= 0, got " + FormatValue(ps.min));
        }
        if (ps.max >= 1) {
          Fail(At(max_field), max_field,
               "reverse_log scale needs max < 1, got " + FormatValue(ps.max));
        }
      }
    }
  }

  std::string file_;
  sf::Mark root_mark_;
  sf::Draft draft_;
  std::vector<SpecDiagnostic> diagnostics_;
  std::map<std::string, sf::Mark, std::less<>> present_;  // path as written -> its position
  std::set<std::string, std::less<>> invalid_;            // present paths that were rejected
};

void EmitString(YAML::Emitter& out, const std::string& s) {
  if (LooksTyped(s)) out << YAML::DoubleQuoted;
  out << s;
}

// A kNumber or kDuration value: integral ones in plain decimal (1000000, not 1e+06), the others in
// the shortest form that reads back to the same double. The field's kind makes it a number either way.
std::string NumberLiteral(double d) {
  if (std::trunc(d) == d && std::abs(d) <= sf::kMaxIntBound) return std::to_string(static_cast<int64_t>(d));
  return FormatValue(d);
}

// A scalar whose type is the value's own (categorical values, static values): a double always
// reads back as a double, a string that looks like something else is quoted.
void EmitTyped(YAML::Emitter& out, const Value& value) {
  if (const auto* b = std::get_if<bool>(&value)) {
    out << std::string(*b ? "true" : "false");
  } else if (const auto* d = std::get_if<double>(&value)) {
    out << FloatLiteral(*d);
  } else if (const auto* n = std::get_if<int64_t>(&value)) {
    out << std::to_string(*n);
  } else {
    EmitString(out, std::get<std::string>(value));
  }
}

void WriteFields(YAML::Emitter& out, const Spec& spec, std::string_view table_path, size_t item);

// Writes one field as its show function reads it from the spec, in the form its kind parses.
void WriteField(YAML::Emitter& out, const Spec& spec, const sf::FieldDef& f, size_t item) {
  if (f.kind == sf::FieldKind::kMap) {
    if (f.show && !f.show(spec, item)) return;
    out << YAML::Key << std::string(sf::KeyOf(f)) << YAML::Value << YAML::BeginMap;
    WriteFields(out, spec, f.path, item);
    out << YAML::EndMap;
    return;
  }
  // A strategy option is written for the strategies that take it (and the parser refuses it for
  // the others).
  if (const std::string_view option = sf::StrategyOption(f.path);
      !option.empty() && !InfoOf(spec.strategy.type).Takes(option)) {
    return;
  }
  const std::optional<sf::FieldValue> v = f.show(spec, item);
  if (!v) return;
  out << YAML::Key << std::string(sf::KeyOf(f)) << YAML::Value;
  switch (f.kind) {
    case sf::FieldKind::kString: EmitString(out, v->text); break;
    case sf::FieldKind::kEnum: out << v->text; break;
    case sf::FieldKind::kInt: out << std::to_string(v->integer); break;
    case sf::FieldKind::kBool: out << (v->boolean ? "true" : "false"); break;
    case sf::FieldKind::kNumber:
    case sf::FieldKind::kDuration: out << NumberLiteral(v->number); break;
    case sf::FieldKind::kStringList:
      out << YAML::Flow << YAML::BeginSeq;
      for (const std::string& s : v->strings) EmitString(out, s);
      out << YAML::EndSeq;
      break;
    case sf::FieldKind::kScalarList:
      out << YAML::Flow << YAML::BeginSeq;
      for (const ParamValue& value : v->scalars) {
        std::visit([&](const auto& x) { EmitTyped(out, Value(x)); }, value);
      }
      out << YAML::EndSeq;
      break;
    case sf::FieldKind::kScalarMap:
      out << YAML::BeginMap;
      for (const NamedValue& value : v->values) {
        out << YAML::Key;
        EmitString(out, value.name);
        out << YAML::Value;
        EmitTyped(out, value.value);
      }
      out << YAML::EndMap;
      break;
    case sf::FieldKind::kConditions:
      out << YAML::Flow << YAML::BeginMap;
      for (const ParamCondition& c : v->conditions) {
        out << YAML::Key;
        EmitString(out, c.parent);
        out << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const ParamValue& value : c.values) {
          std::visit([&](const auto& x) { EmitTyped(out, Value(x)); }, value);
        }
        out << YAML::EndSeq;
      }
      out << YAML::EndMap;
      break;
    case sf::FieldKind::kScalarMapList:
      out << YAML::BeginSeq;
      for (const NamedValues& map : v->maps) {
        out << YAML::Flow << YAML::BeginMap;
        for (const NamedValue& value : map) {
          out << YAML::Key;
          EmitString(out, value.name);
          out << YAML::Value;
          EmitTyped(out, value.value);
        }
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
      break;
    case sf::FieldKind::kMapList:
      out << YAML::BeginSeq;
      for (size_t i = 0; i < v->count; ++i) {
        out << YAML::BeginMap;
        WriteFields(out, spec, std::string(f.path) + "[]", i);
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
      break;
    case sf::FieldKind::kMap: break;  // above
  }
}

// Writes the fields under `table_path` in table order; `item` is the list item they belong to.
void WriteFields(YAML::Emitter& out, const Spec& spec, std::string_view table_path, size_t item) {
  for (const sf::FieldDef* f : sf::ChildrenOf(table_path)) WriteField(out, spec, *f, item);
}

}  // namespace

std::string_view ToString(WarmStartType type) {
  return type == WarmStartType::kTransfer ? "transfer" : "identical";
}

std::vector<Spec::Objective> ObjectivesOf(const Spec& spec) {
  if (!spec.objectives.empty()) return spec.objectives;
  return {spec.objective};
}

std::string SpecDiagnostic::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  out += ": ";
  if (!field.empty()) out += field + ": ";
  return out + message;
}

namespace {
std::string JoinDiagnostics(const std::vector<SpecDiagnostic>& diagnostics) {
  std::string out;
  for (const SpecDiagnostic& d : diagnostics) out += (out.empty() ? "" : "\n") + d.ToString();
  return out;
}
}  // namespace

SpecError::SpecError(std::vector<SpecDiagnostic> diagnostics)
    : Error(ErrorKind::kInvalidInput, JoinDiagnostics(diagnostics)),
      diagnostics_(std::move(diagnostics)) {}

Spec ParseSpec(const std::string& yaml_text, const std::string& file) {
  Spec spec = Parser(file).Parse(yaml_text);
  // The store keeps the normalized spec and a restarted coordinator parses it again, so it must
  // fit the cap too (defaults filled in, it can be about twice the text).
  if (const size_t normalized = ToYaml(spec).size(); normalized > kMaxSpecBytes) {
    throw SpecError({SpecDiagnostic{file, 0, 0, "",
                                    "normalized (as `hpt validate` prints it and the store keeps it), " +
                                        TooLarge(normalized)}});
  }
  return spec;
}

Spec ParseSpecFile(const std::string& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  // A directory opens like a file on Linux and reads as empty; say what it is instead.
  std::error_code ignored;
  const bool directory = std::filesystem::is_directory(path, ignored);
  // One byte past the cap tells a too-large file from one of exactly the cap, without reading
  // the rest of it (it may be huge, or a pipe that never ends).
  std::string text(kMaxSpecBytes + 1, '\0');
  if (in && !directory) {
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
  }
  if (!in.is_open() || in.bad() || directory) {
    const int error = directory ? EISDIR : errno != 0 ? errno : EIO;
    throw Error(ErrorKind::kNotFound, "cannot read spec '" + path + "': " + std::strerror(error));
  }
  if (text.size() > kMaxSpecBytes) {
    std::error_code unknown;
    const auto size = std::filesystem::file_size(path, unknown);
    throw SpecError({SpecDiagnostic{path, 0, 0, "",
                                    TooLarge(unknown ? std::nullopt : std::optional<size_t>(size))}});
  }
  return ParseSpec(text, path);
}

std::string ToYaml(const Spec& spec) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  WriteFields(out, spec, "", 0);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace hpt
