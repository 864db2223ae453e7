#include "store/search.h"
#include "store/search_internal.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <SQLiteCpp/SQLiteCpp.h>

#include "core/error.h"
#include "core/types.h"

namespace hpt {
namespace {

// Deeper nesting than any person writes; a bound keeps the recursion off the stack's end.
constexpr int kMaxDepth = 64;
// More comparisons than any person writes; SQLite refuses expressions deeper than 1000, and each
// `and`/`or` nests one level.
constexpr int kMaxComparisons = 256;

struct Token {
  enum class Kind { kWord, kNumber, kString, kCompare, kLeft, kRight, kEnd };
  Kind kind = Kind::kEnd;
  std::string text;  // a string's contents without its quotes
  size_t column = 0;  // 1-based
  double number = 0;
};

bool WordStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool WordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' || c == '/';
}

[[noreturn]] void Fail(size_t column, const std::string& message) {
  throw Error(ErrorKind::kInvalidInput, "search: column " + std::to_string(column) + ": " + message);
}

std::string Describe(const Token& t) {
  switch (t.kind) {
    case Token::Kind::kEnd: return "end of input";
    case Token::Kind::kString: return "'\"" + t.text + "\"'";
    default: return "'" + t.text + "'";
  }
}

std::vector<Token> Tokenize(std::string_view text) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token t;
    t.column = i + 1;
    if (c == '(' || c == ')') {
      t.kind = c == '(' ? Token::Kind::kLeft : Token::Kind::kRight;
      t.text = std::string(1, c);
      ++i;
    } else if (c == '=' || c == '!' || c == '<' || c == '>') {
      t.kind = Token::Kind::kCompare;
      const bool two = i + 1 < text.size() && text[i + 1] == '=';
      t.text = std::string(text.substr(i, two ? 2 : 1));
      i += t.text.size();
      if (t.text == "!") Fail(t.column, "expected '!=', got '!'");
      if (t.text == "==") t.text = "=";
    } else if (c == '\'' || c == '"') {
      const size_t end = text.find(c, i + 1);
      if (end == std::string_view::npos) Fail(t.column, std::string("unterminated string: no closing ") + c);
      t.kind = Token::Kind::kString;
      t.text = std::string(text.substr(i + 1, end - i - 1));
      i = end + 1;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+') {
      size_t end = i + 1;
      while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '.' ||
                                   ((text[end] == '-' || text[end] == '+') &&
                                    (text[end - 1] == 'e' || text[end - 1] == 'E')))) {
        ++end;
      }
      t.kind = Token::Kind::kNumber;
      t.text = std::string(text.substr(i, end - i));
      const std::string digits = t.text[0] == '+' ? t.text.substr(1) : t.text;
      const char* first = digits.data();
      const char* last = first + digits.size();
      const auto [ptr, ec] = std::from_chars(first, last, t.number);
      if (digits.empty() || ec != std::errc() || ptr != last || !std::isfinite(t.number)) {
        Fail(t.column, "'" + t.text + "' is not a number");
      }
      i = end;
    } else if (WordStart(c)) {
      size_t end = i + 1;
      while (end < text.size() && WordChar(text[end])) ++end;
      t.kind = Token::Kind::kWord;
      t.text = std::string(text.substr(i, end - i));
      i = end;
    } else {
      Fail(t.column, std::string("unexpected character '") + c + "'");
    }
    tokens.push_back(std::move(t));
  }
  Token end;
  end.column = text.size() + 1;
  tokens.push_back(end);
  return tokens;
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool IsKeyword(const Token& t, std::string_view keyword) {
  return t.kind == Token::Kind::kWord && Lower(t.text) == keyword;
}

// A name inside params.NAME / metrics.NAME.STAT: the tokenizer's word characters, no empty part.
void CheckName(const std::string& name, const Token& t, std::string_view what) {
  if (name.empty()) Fail(t.column, "'" + t.text + "': empty " + std::string(what) + " name");
}

SearchField FieldOf(const Token& t) {
  const auto fail = [&]() {
    Fail(t.column, "expected a field (params.NAME, metrics.NAME.last|min|max|avg, experiment, status, "
                   "objective, component), got " + Describe(t));
  };
  if (t.kind != Token::Kind::kWord) fail();
  SearchField f;
  const std::string& w = t.text;
  if (w == "experiment") f.kind = SearchField::Kind::kExperiment;
  else if (w == "status") f.kind = SearchField::Kind::kStatus;
  else if (w == "objective") f.kind = SearchField::Kind::kObjective;
  else if (w == "component") f.kind = SearchField::Kind::kComponent;
  else if (w.rfind("params.", 0) == 0) {
    f.kind = SearchField::Kind::kParam;
    f.name = w.substr(7);
    CheckName(f.name, t, "parameter");
  } else if (w.rfind("metrics.", 0) == 0) {
    f.kind = SearchField::Kind::kMetric;
    const size_t dot = w.rfind('.');
    if (dot <= 7) Fail(t.column, "'" + w + "': expected metrics.NAME.last|min|max|avg");
    f.name = w.substr(8, dot - 8);
    f.stat = w.substr(dot + 1);
    CheckName(f.name, t, "metric");
    if (f.stat != "last" && f.stat != "min" && f.stat != "max" && f.stat != "avg") {
      Fail(t.column + dot + 1, "'" + w + "': expected last, min, max or avg after the metric name, got '" +
                                   f.stat + "'");
    }
  } else {
    fail();
  }
  return f;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  SearchNode Parse() {
    if (Peek().kind == Token::Kind::kEnd) Fail(Peek().column, "empty expression");
    SearchNode node = Or(0);
    if (Peek().kind != Token::Kind::kEnd) {
      Fail(Peek().column, "expected 'and', 'or' or the end, got " + Describe(Peek()));
    }
    return node;
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  const Token& Next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }

  SearchNode Binary(SearchNode::Op op, SearchNode left, SearchNode right) {
    SearchNode n;
    n.op = op;
    n.children.push_back(std::move(left));
    n.children.push_back(std::move(right));
    return n;
  }

  SearchNode Or(int depth) {
    SearchNode left = And(depth);
    while (IsKeyword(Peek(), "or")) {
      Next();
      left = Binary(SearchNode::Op::kOr, std::move(left), And(depth));
    }
    return left;
  }

  SearchNode And(int depth) {
    SearchNode left = Unary(depth);
    while (IsKeyword(Peek(), "and")) {
      Next();
      left = Binary(SearchNode::Op::kAnd, std::move(left), Unary(depth));
    }
    return left;
  }

  SearchNode Unary(int depth) {
    if (depth > kMaxDepth) Fail(Peek().column, "nested deeper than " + std::to_string(kMaxDepth));
    const Token& t = Peek();
    if (IsKeyword(t, "not")) {
      Next();
      SearchNode n;
      n.op = SearchNode::Op::kNot;
      n.children.push_back(Unary(depth + 1));
      return n;
    }
    if (t.kind == Token::Kind::kLeft) {
      Next();
      SearchNode inner = Or(depth + 1);
      if (Peek().kind != Token::Kind::kRight) {
        Fail(Peek().column, "expected ')' to close the '(' at column " + std::to_string(t.column) + ", got " +
                                Describe(Peek()));
      }
      Next();
      return inner;
    }
    return Comparison();
  }

  SearchNode Comparison() {
    if (++comparisons_ > kMaxComparisons) {
      Fail(Peek().column, "more than " + std::to_string(kMaxComparisons) + " comparisons");
    }
    const Token field_token = Next();
    if (field_token.kind == Token::Kind::kEnd) Fail(field_token.column, "expected a field, got end of input");
    SearchNode n;
    n.field = FieldOf(field_token);
    const Token op = Next();
    if (op.kind != Token::Kind::kCompare) {
      Fail(op.column, "expected a comparison (= != < <= > >=) after '" + field_token.text + "', got " + Describe(op));
    }
    n.compare = op.text;
    const Token value = Next();
    const bool is_keyword = IsKeyword(value, "and") || IsKeyword(value, "or") || IsKeyword(value, "not");
    if (value.kind != Token::Kind::kNumber && value.kind != Token::Kind::kString &&
        (value.kind != Token::Kind::kWord || is_keyword)) {
      Fail(value.column, "expected a value after '" + op.text + "', got " + Describe(value));
    }
    using K = SearchField::Kind;
    switch (n.field.kind) {
      case K::kMetric:
      case K::kObjective:
        if (value.kind != Token::Kind::kNumber) {
          Fail(value.column, "'" + n.field.Text() + "' is a number; expected a number, got " + Describe(value));
        }
        n.value = value.number;
        break;
      case K::kStatus:
        if (value.kind == Token::Kind::kNumber || !ParseTrialStatus(value.text)) {
          Fail(value.column, "status is pending, running, completed, failed or stopped, got " + Describe(value));
        }
        n.value = value.text;
        break;
      case K::kComponent:
        if (n.compare != "=" && n.compare != "!=") {
          Fail(op.column, "a component is compared with = or != only, got '" + n.compare + "'");
        }
        n.value = value.text;
        break;
      case K::kExperiment:
        // A number is an experiment id; anything else its name.
        if (value.kind == Token::Kind::kNumber) n.value = value.number;
        else n.value = value.text;
        break;
      case K::kParam:
        if (value.kind == Token::Kind::kNumber) n.value = value.number;
        else n.value = value.text;
        break;
    }
    n.op = SearchNode::Op::kCompare;
    return n;
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int comparisons_ = 0;
};

class Compiler {
 public:
  std::string Expr(const SearchNode& n) {
    // Each child is compiled in its own statement: the binds must follow the SQL's left-to-right
    // order, and the operands of one `+` chain may be evaluated in any order.
    if (n.op == SearchNode::Op::kNot) {
      const std::string inner = Expr(n.children[0]);
      return "(NOT " + inner + ")";
    }
    if (n.op == SearchNode::Op::kAnd || n.op == SearchNode::Op::kOr) {
      // The cheaper side first: SQLite stops at a false AND (a true OR) before running the other
      // side's subqueries. Comparisons are never unknown (see below), so the order cannot change
      // the result.
      const bool swap = Cost(n.children[1]) < Cost(n.children[0]);
      const std::string first = Expr(n.children[swap ? 1 : 0]);
      const std::string second = Expr(n.children[swap ? 0 : 1]);
      return "(" + first + (n.op == SearchNode::Op::kAnd ? " AND " : " OR ") + second + ")";
    }
    const std::string op = n.compare == "!=" ? "<>" : n.compare;
    if (n.field.kind == SearchField::Kind::kComponent) {
      binds.push_back(n.value);
      std::string any = "EXISTS (SELECT 1 FROM trial_component_links l JOIN trial_components c ON c.id = l.component_id "
                        "WHERE l.trial_id = t.id AND c.name = ?)";
      if (user_components) {
        // A user component linked to the trial: its id is found once by its unique name (the
        // IN list is not correlated), then one probe of the links' key (component_id, trial_id).
        binds.push_back(n.value);
        any = "(" + any + " OR EXISTS (SELECT 1 FROM user_component_links ul WHERE ul.trial_id = t.id"
              " AND ul.component_id IN (SELECT uc.id FROM user_components uc WHERE uc.name = ?)))";
      }
      return (n.compare == "=" ? "" : "(NOT ") + any + (n.compare == "=" ? "" : ")");
    }
    if (n.field.kind == SearchField::Kind::kExperiment && std::holds_alternative<double>(n.value)) {
      binds.push_back(n.value);
      return "COALESCE(e.id " + op + " ?, 0)";
    }
    const std::string lhs = Aggregated(n.field) ? Alias(n.field) : Field(n.field);
    binds.push_back(n.value);
    // A missing value makes the comparison false rather than SQL's unknown, so `not` is plain negation.
    return "COALESCE(" + lhs + " " + op + " ?, 0)";
  }

  // A rough cost of evaluating `n` on one trial: columns, then JSON, then subqueries.
  static int Cost(const SearchNode& n) {
    if (n.op != SearchNode::Op::kCompare) {
      int sum = 0;
      for (const SearchNode& c : n.children) sum += Cost(c);
      return sum;
    }
    switch (n.field.kind) {
      case SearchField::Kind::kParam: return 4;
      case SearchField::Kind::kComponent: return 16;
      case SearchField::Kind::kMetric: return 16;
      default: return 1;
    }
  }

  // The SQL of a field's value; binds its name.
  std::string Field(const SearchField& f) {
    switch (f.kind) {
      case SearchField::Kind::kParam:
        binds.push_back("$.\"" + f.name + "\"");
        return "json_extract(t.params, ?)";
      case SearchField::Kind::kMetric: {
        if (f.stat != "last") {
          // An aggregate over the rows of the query's join with `metrics` (see CompileSearch);
          // with several metric names, each keeps its own rows.
          if (joined_names.size() < 2) return f.stat + "(m.value)";
          binds.push_back(f.name);
          return f.stat + "(m.value) FILTER (WHERE m.name = ?)";
        }
        binds.push_back(f.name);
        return "(SELECT m.value FROM metrics m WHERE m.trial_id = t.id AND m.name = ? AND m.attempt = t.attempt"
               " ORDER BY m.step DESC LIMIT 1)";
      }
      case SearchField::Kind::kExperiment: return "e.name";
      case SearchField::Kind::kStatus: return "t.status";
      case SearchField::Kind::kObjective: return "t.objective";
      case SearchField::Kind::kComponent:
        return "(SELECT min(c.name) FROM trial_component_links l JOIN trial_components c ON c.id = l.component_id "
               "WHERE l.trial_id = t.id)";
    }
    return "NULL";
  }

  static bool Aggregated(const SearchField& f) { return f.kind == SearchField::Kind::kMetric && f.stat != "last"; }

  // The result column that holds `f` (every metric field of EXPR is selected).
  std::string Alias(const SearchField& f) const {
    for (size_t i = 0; i < selected.size(); ++i) {
      if (selected[i].Text() == f.Text()) return "v" + std::to_string(i);
    }
    return "NULL";  // unreachable: CollectMetrics selected it
  }

  std::vector<SearchValue> binds;
  bool user_components = true;
  std::vector<SearchField> selected;
  std::vector<std::string> joined_names;  // the metric names of the aggregated fields, each once
};

void CollectMetrics(const SearchNode& n, std::vector<SearchField>& out) {
  for (const SearchNode& c : n.children) CollectMetrics(c, out);
  if (n.op != SearchNode::Op::kCompare || n.field.kind != SearchField::Kind::kMetric) return;
  for (const SearchField& f : out) {
    if (f.Text() == n.field.Text()) return;
  }
  out.push_back(n.field);
}

void Bind(SQLite::Statement& s, int index, const SearchValue& v) {
  if (const double* d = std::get_if<double>(&v)) s.bind(index, *d);
  else s.bind(index, std::get<std::string>(v));
}

nlohmann::ordered_json ColumnJson(const SQLite::Column& c) {
  if (c.isNull()) return nullptr;
  if (c.isInteger()) return c.getInt64();
  if (c.isFloat()) return c.getDouble();
  return c.getString();
}

}  // namespace

std::string SearchField::Text() const {
  switch (kind) {
    case Kind::kParam: return "params." + name;
    case Kind::kMetric: return "metrics." + name + "." + stat;
    case Kind::kExperiment: return "experiment";
    case Kind::kStatus: return "status";
    case Kind::kObjective: return "objective";
    case Kind::kComponent: return "component";
  }
  return "";
}

SearchNode ParseSearch(std::string_view text) { return Parser(Tokenize(text)).Parse(); }

SearchSort ParseSearchSort(std::string_view text) {
  std::vector<Token> tokens;
  try {
    tokens = Tokenize(text);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, std::string("--sort: ") + e.what());
  }
  const auto fail = [&](const std::string& why) { throw Error(ErrorKind::kInvalidInput, "--sort: " + why); };
  if (tokens.size() < 2 || tokens.size() > 3) fail("expected FIELD [asc|desc], got '" + std::string(text) + "'");
  SearchSort sort;
  try {
    sort.field = FieldOf(tokens[0]);
  } catch (const Error& e) {
    fail(std::string(e.what()).substr(8));  // drop the "search: " of the parser's message
  }
  if (sort.field.kind == SearchField::Kind::kComponent) fail("cannot sort by component");
  if (tokens.size() == 3) {
    if (IsKeyword(tokens[1], "desc")) sort.descending = true;
    else if (!IsKeyword(tokens[1], "asc")) fail("expected asc or desc after the field, got " + Describe(tokens[1]));
  }
  return sort;
}

CompiledSearch CompileSearch(const SearchNode& expr, const std::optional<SearchSort>& sort, int64_t top,
                             bool user_components) {
  CompiledSearch out;
  CollectMetrics(expr, out.selected);
  if (sort && sort->field.kind == SearchField::Kind::kMetric) {
    bool seen = false;
    for (const SearchField& f : out.selected) seen = seen || f.Text() == sort->field.Text();
    if (!seen) out.selected.push_back(sort->field);
  }
  Compiler c;
  c.user_components = user_components;
  c.selected = out.selected;
  for (const SearchField& f : out.selected) {
    if (Compiler::Aggregated(f) &&
        std::find(c.joined_names.begin(), c.joined_names.end(), f.name) == c.joined_names.end()) {
      c.joined_names.push_back(f.name);
    }
  }
  std::string sql =
      "SELECT t.id, t.number, t.experiment_id, e.name, t.status, t.objective, t.params, t.started_at, t.ended_at";
  for (size_t i = 0; i < out.selected.size(); ++i) sql += ", " + c.Field(out.selected[i]) + " AS v" + std::to_string(i);
  sql += " FROM trials t JOIN experiments e ON e.id = t.experiment_id";
  if (c.joined_names.empty()) {
    sql += " WHERE " + c.Expr(expr);
  } else {
    // min/max/avg of a metric: one join with the points of the trial's latest attempt, grouped
    // per trial, rather than a subquery per statistic. Each subquery is a seek into `metrics` and
    // a read of the series, run once in WHERE and again in the result columns (SQLite does not
    // share them), so `metrics.x.avg > 10 --sort 'metrics.x.max desc'` read every series three
    // times; the join reads it once, and the HAVING names the aggregates by their result column.
    // A trial without points keeps its one row (LEFT JOIN): its aggregates are NULL.
    sql += " LEFT JOIN metrics m ON m.trial_id = t.id AND m.attempt = t.attempt AND m.name IN (";
    for (size_t i = 0; i < c.joined_names.size(); ++i) {
      sql += i ? ", ?" : "?";
      c.binds.push_back(c.joined_names[i]);
    }
    sql += ") GROUP BY t.id HAVING " + c.Expr(expr);
  }
  if (sort) {
    // A metric key is one of the selected columns: ordering by its name reuses the value
    // computed for the row rather than running its subquery again.
    std::string key;
    for (size_t i = 0; i < out.selected.size() && sort->field.kind == SearchField::Kind::kMetric; ++i) {
      if (out.selected[i].Text() == sort->field.Text()) key = "v" + std::to_string(i);
    }
    if (key.empty()) key = c.Field(sort->field);
    sql += " ORDER BY " + key + (sort->descending ? " DESC" : " ASC") + " NULLS LAST, t.id";
  } else {
    sql += " ORDER BY t.experiment_id, t.number";
  }
  if (top > 0) {
    sql += " LIMIT ?";
    c.binds.push_back(static_cast<double>(top));
  }
  out.sql = std::move(sql);
  out.binds = std::move(c.binds);
  return out;
}

namespace store_internal {

nlohmann::ordered_json SearchOn(SQLite::Database& db, std::string_view expr, const std::string& sort, int64_t top) {
  const SearchNode node = ParseSearch(expr);
  std::optional<SearchSort> order;
  if (!sort.empty()) order = ParseSearchSort(sort);
  // A file from before schema 7 has no user components (and a reader refuses such a file
  // elsewhere; search reads it as it always did).
  SQLite::Statement has(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'user_component_links'");
  const CompiledSearch compiled = CompileSearch(node, order, top, has.executeStep());
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  SQLite::Statement s(db, compiled.sql);
  for (size_t i = 0; i < compiled.binds.size(); ++i) Bind(s, static_cast<int>(i) + 1, compiled.binds[i]);
  while (s.executeStep()) {
    nlohmann::ordered_json row;
    row["trial"] = s.getColumn(0).getInt64();
    row["number"] = s.getColumn(1).getInt64();
    row["experiment"] = s.getColumn(2).getInt64();
    row["experiment_name"] = s.getColumn(3).getString();
    row["status"] = s.getColumn(4).getString();
    row["objective"] = ColumnJson(s.getColumn(5));
    row["params"] = nlohmann::ordered_json::parse(s.getColumn(6).getString(), nullptr, false);
    if (row["params"].is_discarded()) row["params"] = nlohmann::ordered_json::object();
    const SQLite::Column started = s.getColumn(7);
    const SQLite::Column ended = s.getColumn(8);
    row["duration"] = started.isNull() || ended.isNull() ? nlohmann::ordered_json(nullptr)
                                                         : nlohmann::ordered_json(ended.getDouble() - started.getDouble());
    nlohmann::ordered_json values = nlohmann::ordered_json::object();
    for (size_t i = 0; i < compiled.selected.size(); ++i) {
      values[compiled.selected[i].Text()] = ColumnJson(s.getColumn(static_cast<int>(9 + i)));
    }
    row["values"] = std::move(values);
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace store_internal

nlohmann::ordered_json RunSearch(const std::string& db_path, std::string_view expr, const std::string& sort,
                                 int64_t top) {
  // Parsed before the file is opened: a bad EXPR is exit 2 whatever the file.
  ParseSearch(expr);
  if (!sort.empty()) ParseSearchSort(sort);
  std::error_code ec;
  if (!std::filesystem::exists(db_path, ec)) throw Error(ErrorKind::kNotFound, "no database at '" + db_path + "'");
  try {
    SQLite::Database db(db_path, SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX, 5000);
    return store_internal::SearchOn(db, expr, sort, top);
  } catch (const SQLite::Exception& e) {
    throw Error(ErrorKind::kFailed, "search in '" + db_path + "': " + e.what());
  }
}

}  // namespace hpt
