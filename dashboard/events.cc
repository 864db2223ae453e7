#include "dashboard/events.h"

#include <nlohmann/json.hpp>

#include "core/types.h"

namespace hpt {

std::string FormatEvent(const DashboardEvent& event) {
  nlohmann::ordered_json data;
  data["experiment_id"] = event.experiment_id;
  if (event.kind == DashboardEvent::Kind::kTrial) data["trial_id"] = event.trial_id;
  data["status"] = event.status;
  return std::string("event: ") + (event.kind == DashboardEvent::Kind::kTrial ? "trial" : "experiment") +
         "\ndata: " + data.dump() + "\n\n";
}

std::vector<DashboardEvent> ChangeDetector::Poll(Store& store) {
  std::vector<DashboardEvent> trial_events, experiment_events;
  const int64_t token = store.ChangeToken();
  if (primed_ && token == token_) return {};
  token_ = token;
  std::map<int64_t, ExperimentStatus> experiments;
  std::map<int64_t, std::map<int64_t, TrialStatus>> trials;
  for (const ExperimentRow& e : store.ListExperiments()) {
    experiments[e.id] = e.status;
    const auto before = experiments_.find(e.id);
    const bool was_running = before != experiments_.end() && before->second == ExperimentStatus::kRunning;
    if (primed_ && (before == experiments_.end() || before->second != e.status)) {
      experiment_events.push_back({DashboardEvent::Kind::kExperiment, e.id, 0, std::string(ToString(e.status))});
    }
    // A trial's last change may be committed with its experiment's end: look once more then.
    if (e.status != ExperimentStatus::kRunning && !was_running) continue;
    const auto& seen = trials_[e.id];
    auto& now = trials[e.id];
    for (const auto& [id, status, attempt] : store.TrialStates(e.id)) {
      now[id] = status;
      const auto it = seen.find(id);
      if (primed_ && (it == seen.end() || it->second != status)) {
        trial_events.push_back({DashboardEvent::Kind::kTrial, e.id, id, std::string(ToString(status))});
      }
    }
    if (e.status != ExperimentStatus::kRunning) trials.erase(e.id);
  }
  experiments_ = std::move(experiments);
  trials_ = std::move(trials);
  primed_ = true;
  trial_events.insert(trial_events.end(), experiment_events.begin(), experiment_events.end());
  return trial_events;
}

uint64_t EventHub::Latest() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return next_ - 1;
}

void EventHub::Publish(const std::vector<DashboardEvent>& events) {
  if (events.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const DashboardEvent& e : events) {
      recent_.emplace_back(next_++, FormatEvent(e));
      if (recent_.size() > keep_) recent_.pop_front();
    }
  }
  changed_.notify_all();
}

std::optional<std::string> EventHub::Wait(uint64_t& after, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return closed_ || next_ - 1 > after; });
  if (closed_) return std::nullopt;
  std::string out;
  if (next_ - 1 <= after) return out;
  if (recent_.empty() || recent_.front().first > after + 1) {
    out = "event: reload\ndata: {}\n\n";  // it missed events that are no longer kept
  } else {
    for (const auto& [sequence, text] : recent_) {
      if (sequence > after) out += text;
    }
  }
  after = next_ - 1;
  return out;
}

void EventHub::Close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

}  // namespace hpt
