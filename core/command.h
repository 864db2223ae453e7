#pragma once
// trial.command: its `{placeholder}` syntax, and the built-in placeholders, which the spec checker
// accepts, the worker expands and docs/spec.md lists, all from BuiltinPlaceholderTable().

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hpt {

// What the built-in placeholders stand for in one attempt. The worker fills it; each value is also
// set in the trial's environment, under the variable the table names.
struct TrialBuiltins {
  std::string trial_id;
  std::string experiment;      // the experiment's name
  std::string trial_dir;       // absolute
  std::string checkpoint_dir;  // absolute
  std::string budget;          // "" when the attempt has the full budget
};

struct BuiltinPlaceholder {
  std::string_view name;  // written `{name}` in trial.command
  std::string_view env;   // the trial's environment variable holding the same value
  std::string_view doc;   // what the value is, for docs/spec.md
  std::string TrialBuiltins::*value;
};

// Every built-in placeholder, in the order docs/spec.md lists them. Parameters and static keys may
// not take their names.
const std::vector<BuiltinPlaceholder>& BuiltinPlaceholderTable();
// The table's names: trial_id, experiment, ...
const std::vector<std::string>& BuiltinPlaceholders();
// The value of the built-in placeholder `name` in one attempt; nullopt when `name` is no built-in.
std::optional<std::string> BuiltinValue(const TrialBuiltins& values, std::string_view name);
// The table as the Markdown that docs/spec.md embeds between its "placeholders" markers.
std::string BuiltinPlaceholdersMarkdown();

// Replaces every {name} in each argument by lookup(name); "{{" and "}}" stand for literal braces.
// Each argument stays one argument (nothing is split or passed through a shell). Throws
// Error(kInvalidInput) naming the placeholder when lookup returns nullopt or a brace is unbalanced.
std::vector<std::string> ExpandCommand(
    const std::vector<std::string>& command,
    const std::function<std::optional<std::string>(std::string_view)>& lookup);

// The command without the arguments that name a placeholder for which absent(name) is true (a
// conditional parameter inactive in the trial): each such argument is left out whole, so
// `--momentum={momentum}` disappears rather than becoming `--momentum=`. Throws like ExpandCommand
// on bad braces.
std::vector<std::string> WithoutAbsentArguments(const std::vector<std::string>& command,
                                                const std::function<bool(std::string_view)>& absent);

// The placeholder names used in one argument, in order. Throws like ExpandCommand on bad braces.
std::vector<std::string> PlaceholdersIn(std::string_view argument);

}  // namespace hpt
