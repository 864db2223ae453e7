#include "dashboard/table.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json.h"
#include "plot/plot.h"
#include "store/views.h"

namespace hpt {
namespace {

Error Bad(const std::string& name, const std::string& value, const std::string& why) {
  return Error(ErrorKind::kInvalidInput, name + ": '" + value + "' " + why);
}

size_t Count(const std::string& name, const std::string& value, size_t high) {
  const auto n = Store::ExperimentIdOf(value);
  if (!n || static_cast<uint64_t>(*n) > high) {
    throw Bad(name, value, "is not a whole number from 0 to " + std::to_string(high));
  }
  return static_cast<size_t>(*n);
}

double Number(const std::string& name, const std::string& value) {
  try {
    size_t used = 0;
    const double x = std::stod(value, &used);
    if (used == value.size() && std::isfinite(x)) return x;
  } catch (const std::exception&) {
  }
  throw Bad(name, value, "is not a number");
}

// A cell of the table as the page compares it: a number, a string, or nothing.
struct Cell {
  enum { kNone, kNumber, kText } kind = kNone;
  double number = 0;
  std::string_view text;
};

Cell OfValue(const ParamValue& v) {
  if (const auto* n = std::get_if<int64_t>(&v)) return {Cell::kNumber, static_cast<double>(*n), {}};
  if (const auto* x = std::get_if<double>(&v)) return {Cell::kNumber, *x, {}};
  return {Cell::kText, 0, std::get<std::string>(v)};
}

Cell OfNumber(const std::optional<double>& x) { return x ? Cell{Cell::kNumber, *x, {}} : Cell{}; }

// The value of one column for trial i; `param` is the column's index in the space, or -1.
class Columns {
 public:
  explicit Columns(const plot::ExperimentData& data) : data_(data) {}

  // The parameter index of a column name ("objective" is -1); nullopt when there is no such column.
  std::optional<int> ParamIndex(std::string_view name) const {
    if (name == "objective") return -1;
    const auto& params = data_.space.params();
    for (size_t k = 0; k < params.size(); ++k) {
      if (params[k].name == name) return static_cast<int>(k);
    }
    return std::nullopt;
  }

  std::optional<ParamValue> Param(size_t i, int k) const { return data_.ValueOf(i, static_cast<size_t>(k)); }

 private:
  const plot::ExperimentData& data_;
};

bool Passes(const plot::ExperimentData& data, const Columns& columns, size_t i, const TableQuery& q,
            const std::vector<int>& filter_params) {
  const TrialRow& t = data.trials[i];
  if (!q.status.empty() && ToString(t.status) != q.status) return false;
  for (size_t f = 0; f < q.filters.size(); ++f) {
    const TableQuery::Filter& filter = q.filters[f];
    std::optional<ParamValue> value;
    if (filter_params[f] < 0) {
      if (t.objective) value = *t.objective;
    } else {
      value = columns.Param(i, filter_params[f]);
    }
    if (!value) return false;
    const Cell c = OfValue(*value);
    if ((filter.min || filter.max) && c.kind != Cell::kNumber) return false;
    if (filter.min && !(c.number >= *filter.min)) return false;
    if (filter.max && !(c.number <= *filter.max)) return false;
    if (filter.in) {
      const bool any = std::any_of(filter.in->begin(), filter.in->end(), [&](const ParamValue& v) {
        const Cell w = OfValue(v);
        return w.kind == c.kind && (c.kind == Cell::kNumber ? w.number == c.number : w.text == c.text);
      });
      if (!any) return false;
    }
  }
  return true;
}

}  // namespace

TableQuery ParseTableQuery(const std::map<std::string, std::string>& query, const plot::ExperimentData& data) {
  TableQuery q;
  const Columns columns(data);
  std::map<std::string, size_t> filter_of;  // column -> index in q.filters
  const auto filter = [&](const std::string& name, const std::string& column) -> TableQuery::Filter& {
    if (!columns.ParamIndex(column)) {
      throw Bad(name, column, "names no column to filter (the objective or a searched parameter)");
    }
    const auto [it, inserted] = filter_of.emplace(column, q.filters.size());
    if (inserted) q.filters.push_back({column, {}, {}, {}});
    return q.filters[it->second];
  };
  for (const auto& [name, value] : query) {
    if (name == "sort") {
      static const char* const kKeys[] = {"number", "trial", "status", "objective", "attempt", "duration", "started_at"};
      const bool known = std::find(std::begin(kKeys), std::end(kKeys), value) != std::end(kKeys) ||
                         (value.starts_with("param:") && columns.ParamIndex(value.substr(6)).value_or(-1) >= 0);
      if (!known) throw Bad(name, value, "is not a column (number, trial, status, objective, param:NAME, attempt, duration, started_at)");
      q.sort = value;
    } else if (name == "order") {
      if (value != "asc" && value != "desc" && value != "best") throw Bad(name, value, "is not asc, desc or best");
      q.order = value == "asc" ? 1 : value == "desc" ? -1 : 0;
    } else if (name == "status") {
      if (!value.empty() && !ParseTrialStatus(value)) throw Bad(name, value, "is not a trial status");
      q.status = value;
    } else if (name == "offset") {
      q.offset = Count(name, value, 1u << 30);
    } else if (name == "limit") {
      q.limit = Count(name, value, TableQuery::kMaxLimit);
    } else if (name.starts_with("min.")) {
      filter(name, name.substr(4)).min = Number(name, value);
    } else if (name.starts_with("max.")) {
      filter(name, name.substr(4)).max = Number(name, value);
    } else if (name.starts_with("in.")) {
      std::vector<ParamValue> values;
      try {
        const Json list = Json::parse(value);
        if (!list.is_array()) throw Bad(name, value, "is not a JSON array of values");
        for (const Json& v : list) {
          if (v.is_number_integer()) values.emplace_back(v.get<int64_t>());
          else if (v.is_number()) values.emplace_back(v.get<double>());
          else if (v.is_string()) values.emplace_back(v.get<std::string>());
          else throw Bad(name, value, "holds something other than numbers and strings");
        }
      } catch (const Json::exception&) {
        throw Bad(name, value, "is not a JSON array of values");
      }
      filter(name, name.substr(3)).in = std::move(values);
    } else if (name != "token") {
      throw Bad(name, value, "is not a parameter of the table (sort, order, status, min.*, max.*, in.*, offset, limit)");
    }
  }
  return q;
}

std::string TableJson(const plot::ExperimentData& data, const TableQuery& q) {
  const Columns columns(data);
  std::vector<int> filter_params;
  for (const TableQuery::Filter& f : q.filters) filter_params.push_back(*columns.ParamIndex(f.column));
  const size_t n = data.trials.size();
  std::vector<size_t> kept;
  kept.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (Passes(data, columns, i, q, filter_params)) kept.push_back(i);
  }

  // The sort column's cells, computed once (a parameter's value is decoded per trial).
  std::vector<Cell> cells(n);
  std::vector<std::optional<ParamValue>> values;  // owns the text of a categorical column
  const std::optional<int> param = q.sort.starts_with("param:") ? columns.ParamIndex(q.sort.substr(6)) : std::nullopt;
  if (param) values.resize(n);
  std::vector<std::string> statuses;
  for (const size_t i : kept) {
    const TrialRow& t = data.trials[i];
    if (param) {
      values[i] = columns.Param(i, *param);
      if (values[i]) cells[i] = OfValue(*values[i]);
    } else if (q.sort == "number") {
      cells[i] = OfNumber(static_cast<double>(t.number));
    } else if (q.sort == "trial") {
      cells[i] = OfNumber(static_cast<double>(t.id));
    } else if (q.sort == "status") {
      cells[i] = {Cell::kText, 0, ToString(t.status)};
    } else if (q.sort == "attempt") {
      cells[i] = OfNumber(static_cast<double>(t.attempt));
    } else if (q.sort == "duration") {
      cells[i] = t.started_at && t.ended_at ? OfNumber(*t.ended_at - *t.started_at) : Cell{};
    } else if (q.sort == "started_at") {
      cells[i] = OfNumber(t.started_at);
    } else {
      cells[i] = t.objective && std::isfinite(*t.objective) ? OfNumber(t.objective) : Cell{};
    }
  }
  int order = q.order;
  if (order == 0) order = q.sort == "objective" && data.experiment.goal == Goal::kMaximize ? -1 : 1;
  // As the page sorted before: missing last; numbers by value, else as text; ties by number.
  std::stable_sort(kept.begin(), kept.end(), [&](size_t a, size_t b) {
    const Cell& x = cells[a];
    const Cell& y = cells[b];
    if ((x.kind == Cell::kNone) != (y.kind == Cell::kNone)) return y.kind == Cell::kNone;
    int c = 0;
    if (x.kind == Cell::kNumber && y.kind == Cell::kNumber) {
      c = x.number < y.number ? -1 : x.number > y.number ? 1 : 0;
    } else if (x.kind != Cell::kNone) {
      const std::string xs = x.kind == Cell::kText ? std::string(x.text) : FormatValue(x.number);
      const std::string ys = y.kind == Cell::kText ? std::string(y.text) : FormatValue(y.number);
      c = xs.compare(ys) < 0 ? -1 : xs.compare(ys) > 0 ? 1 : 0;
    }
    if (c != 0) return order * c < 0;
    return data.trials[a].number < data.trials[b].number;
  });

  std::string out = "{\"total\":" + std::to_string(n) + ",\"matched\":" + std::to_string(kept.size()) +
                    ",\"offset\":" + std::to_string(q.offset) + ",\"limit\":" + std::to_string(q.limit) + ",\"rows\":[";
  for (size_t r = q.offset; r < kept.size() && r < q.offset + q.limit; ++r) {
    if (r != q.offset) out += ',';
    out += JsonText(TrialJson(data.Trial(kept[r])));
  }
  Json params = Json::array();
  for (const ParamSpec& p : data.space.params()) {
    Json choices = Json::array();
    for (const ParamValue& v : p.choices) {
      choices.push_back(std::visit([](const auto& x) { return Json(x); }, v));
    }
    params.push_back({{"name", p.name},
                      {"type", std::string(ToString(p.type))},
                      {"scale", std::string(ToString(p.scale))},
                      {"min", p.type == ParamType::kCategorical ? Json(nullptr) : Json(p.min)},
                      {"max", p.type == ParamType::kCategorical ? Json(nullptr) : Json(p.max)},
                      {"choices", std::move(choices)}});
  }
  out += "],\"params\":" + JsonText(params) + ",\"parallel\":";
  if (q.status.empty() && q.filters.empty()) {
    out += "null}";
    return out;
  }
  std::vector<char> passes(n, 0);
  for (const size_t i : kept) passes[i] = 1;
  Json drawn = Json::array();
  for (const int64_t id : ParallelTrialIds(data)) {
    if (const auto i = data.IndexOf(id); i && passes[*i]) drawn.push_back(id);
  }
  out += JsonText(drawn) + "}";
  return out;
}

}  // namespace hpt
