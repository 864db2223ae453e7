#!/usr/bin/python3
"""Peer baselines for the strategy benchmarks (run by hand with Debian's python3-optuna and
python3-sklearn: /usr/bin/python3, not a pyenv python).

  peers.py quality [--functions all] [--samplers tpe,tpe_mv,random] [--seeds 20] [--first-seed 0]
                   [--budget 100]
      One JSON object per run, in the format of `hpt-strategy-bench quality`. --functions takes
      names and the groups all (the suite of issue 3), highdim and noisy (issue 22). Samplers:
      Optuna's tpe, tpe_mv, random, and the model peers gp-ei (GpEi) and rf-ei (RfEi). On a noisy
      function each run's best_so_far is the noise-free value of its incumbent (the point with
      the best observed value), and the row carries noise_sd.
  peers.py pareto [--problems all] [--samplers nsga2,motpe] [--seeds 20] [--budget 100]
      Several objectives: one JSON object per run in the format of `hpt-strategy-bench pareto`
      (every evaluation's objectives and feasibility); constrained problems give the samplers a
      constraints_func.
  peers.py conditional [--problems all] [--samplers tpe_mvg,tpe] [--seeds 20] [--budget 100]
      Conditional spaces (CONDITIONAL below, the problems of conditional_functions.h) with
      define-by-run suggestions: a branch's parameters are suggested only in that branch. tpe_mvg is
      TPESampler(multivariate=True, group=True), which models each branch's parameters jointly;
      tpe the plain (independent) TPE. One JSON object per run in the format of `quality`.
  peers.py evaluate-conditional PROBLEM NAME=VALUE ...
      Prints `hpt: value=...` for a point given by its active parameters: the trial program of
      bench/real_path.py --conditional.
  peers.py evaluate FUNCTION X0 X1 ...
      Prints `hpt: value=F(X)`: the trial program of bench/real_path.py.
  peers.py evaluate-pareto PROBLEM X0 X1 ...
      Prints `hpt: f0=... f1=... c0=...` (objectives, then constraint values): the trial program
      of bench/real_path.py --pareto.
  peers.py latency [--n 100,500,1000,2000] [--d 2,6,10,20] [--reps 5]
      Suggestion time of Optuna's TPE (ask() on a study holding n trials) and of scikit-learn's
      GaussianProcessRegressor (fit on n points + predict mean/std at 2048 candidates).

The functions are those of functions.h, pareto_functions.h and conditional_functions.h; keep
them in step.
"""
import argparse
import json
import math
import sys
import time


def branin(x):
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x[1] - b * x[0] ** 2 + c * x[0] - 6) ** 2 + 10 * (1 - t) * math.cos(x[0]) + 10


A3 = [[3, 10, 30], [0.1, 10, 35], [3, 10, 30], [0.1, 10, 35]]
P3 = [[0.3689, 0.1170, 0.2673], [0.4699, 0.4387, 0.7470], [0.1091, 0.8732, 0.5547], [0.03815, 0.5743, 0.8828]]
A6 = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P6 = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886], [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
      [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650], [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]
ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann(x, a, p):
    return -sum(ALPHA[i] * math.exp(-sum(a[i][j] * (x[j] - p[i][j]) ** 2 for j in range(len(x)))) for i in range(4))


def rosenbrock(x):
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))


def ackley(x):
    d = len(x)
    s1 = sum(v * v for v in x)
    s2 = sum(math.cos(2 * math.pi * v) for v in x)
    return -20 * math.exp(-0.2 * math.sqrt(s1 / d)) - math.exp(s2 / d) + 20 + math.e


def levy(x):
    w = [1 + (v - 1) / 4 for v in x]
    s = math.sin(math.pi * w[0]) ** 2
    for i in range(len(x) - 1):
        s += (w[i] - 1) ** 2 * (1 + 10 * math.sin(math.pi * w[i] + 1) ** 2)
    s += (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return s


def styblinski_tang(x):
    return sum(v ** 4 - 16 * v ** 2 + 5 * v for v in x) / 2


def embedded(x, d):
    """The six effective coordinates of Hartmann6 in d dimensions: every (d / 6)-th one, so that
    they are spread over the vector (functions.h, Embedded)."""
    step = d // 6
    return [x[i * step] for i in range(6)]


def box(d, lo, hi, log=False):
    return [(f"x{i}", lo, hi, log) for i in range(d)]


FUNCTIONS = {
    "branin": ([("x0", -5, 10, False), ("x1", 0, 15, False)], 0.397887357729738, branin),
    "hartmann3": (box(3, 0, 1), -3.86278214782076, lambda x: hartmann(x, A3, P3)),
    "hartmann6": (box(6, 0, 1), -3.32236801141551, lambda x: hartmann(x, A6, P6)),
    "rosenbrock4": (box(4, -5, 10), 0.0, rosenbrock),
    "rosenbrock4_log": (box(4, 1e-2, 10, log=True), 0.0, rosenbrock),
    "ackley5": (box(5, -32.768, 32.768), 0.0, ackley),
    "levy5": (box(5, -10, 10), 0.0, levy),
    "styblinski_tang5": (box(5, -5, 5), -39.16616570377142 * 5, styblinski_tang),
    # Issue 22: 20-60 dimensions (the "highdim" group of functions.h).
    "ackley20": (box(20, -32.768, 32.768), 0.0, ackley),
    "levy20": (box(20, -10, 10), 0.0, levy),
    "rosenbrock20": (box(20, -5, 10), 0.0, rosenbrock),
    "hartmann6_in30": (box(30, 0, 1), -3.32236801141551, lambda x: hartmann(embedded(x, 30), A6, P6)),
    "hartmann6_in60": (box(60, 0, 1), -3.32236801141551, lambda x: hartmann(embedded(x, 60), A6, P6)),
    # Issue 22: Gaussian noise of sd 5% and 20% of the function's range over its domain (the "noisy"
    # group). Each is (noise-free function's entry, noise sd); a run is scored by the noise-free value
    # of its incumbent.
}

# Branin's range over [-5, 10] x [0, 15]: its maximum 308.129096 at (-5, 0) (a 3001^2 grid and the
# corners) less its minimum. Hartmann6's: its supremum is 0 (a sum of positive terms, negated).
BRANIN_RANGE = 308.12909601160663 - 0.397887357729738
HARTMANN6_RANGE = 3.32236801141551
NOISY = {
    "branin_noise05": ("branin", 0.05 * BRANIN_RANGE),
    "branin_noise20": ("branin", 0.20 * BRANIN_RANGE),
    "hartmann6_noise05": ("hartmann6", 0.05 * HARTMANN6_RANGE),
    "hartmann6_noise20": ("hartmann6", 0.20 * HARTMANN6_RANGE),
}
for _name, (_base, _sd) in NOISY.items():
    FUNCTIONS[_name] = FUNCTIONS[_base]
# --functions groups, as in functions.h: "all" is the suite of issue 3 (unchanged), "highdim" and
# "noisy" those of issue 22.
GROUPS = {
    "all": ["branin", "hartmann3", "hartmann6", "rosenbrock4", "rosenbrock4_log", "ackley5", "levy5",
            "styblinski_tang5"],
    "highdim": ["ackley20", "levy20", "rosenbrock20", "hartmann6_in30", "hartmann6_in60"],
    "noisy": list(NOISY),
}


def function_names(text):
    out = []
    for item in text.split(","):
        out += GROUPS.get(item, [item])
    return out


# Conditional problems: the same as bench/conditional_functions.h (see its comments); keep in step.
# Each takes a dict of the point's parameters by name and reads only those of its branch.
TWO_MODELS_A = [0.25, 0.7, 0.4]
TWO_MODELS_B = [0.3, 0.8, 0.55, 0.15, 0.65]


def two_models(p):
    ul = (math.log10(p["lr"]) + 4) / 3
    if p["model"] == "a":
        s = sum((p[f"a{i}"] - TWO_MODELS_A[i]) ** 2 for i in range(3))
        return 0.5 + 0.4 * s + 0.4 * (ul - 2.0 / 3.0) ** 2
    r2 = (ul - 1.0 / 3.0) ** 2 + sum((p[f"b{i}"] - TWO_MODELS_B[i]) ** 2 for i in range(5))
    return 1.4 * (1 - math.exp(-r2 / (2 * 0.4 * 0.4)))


MLP_WIDTH_LOG2 = [7, 6, 5, 4]
MLP_DEPTH_PENALTY = [0.6, 0.3, 0.0, 0.15]


def mlp_layers(p):
    ul = (math.log10(p["lr"]) + 4) / 4
    if p["model"] == "linear":
        ur = (math.log10(p["l2"]) + 6) / 5
        return 0.45 + 0.4 * ((ul - 0.75) ** 2 + (ur - 0.4) ** 2)
    layers = int(p["layers"])
    r2 = (p["dropout"] / 0.5 - 0.4) ** 2 + (ul - 0.5) ** 2
    r2 += sum(((math.log2(p[f"width{k + 1}"]) - MLP_WIDTH_LOG2[k]) / 6) ** 2 for k in range(layers))
    return MLP_DEPTH_PENALTY[layers - 1] + 1.2 * (1 - math.exp(-r2 / (2 * 0.4 * 0.4)))


# name: (parameters, minimum, function). A parameter is (name, kind, spec, when): kind "cat" with
# spec = choices, "float"/"int" with spec = (lo, hi, log); when = None or (parent, [values]).
CONDITIONAL = {
    "two_models": ([("model", "cat", ["a", "b"], None), ("lr", "float", (1e-4, 1e-1, True), None)] +
                   [(f"a{i}", "float", (0.0, 1.0, False), ("model", ["a"])) for i in range(3)] +
                   [(f"b{i}", "float", (0.0, 1.0, False), ("model", ["b"])) for i in range(5)],
                   0.0, two_models),
    "mlp_layers": ([("model", "cat", ["linear", "mlp"], None), ("lr", "float", (1e-4, 1.0, True), None),
                    ("l2", "float", (1e-6, 1e-1, True), ("model", ["linear"])),
                    ("layers", "int", (1, 4, False), ("model", ["mlp"])),
                    ("dropout", "float", (0.0, 0.5, False), ("model", ["mlp"]))] +
                   [(f"width{k}", "int", (8, 512, True), ("layers", list(range(k, 5)))) for k in range(1, 5)],
                   0.0, mlp_layers),
}


def suggest_conditional(trial, params):
    """Define-by-run: each parameter suggested only when its condition holds."""
    values = {}
    for name, kind, spec, when in params:
        if when is not None and not (when[0] in values and values[when[0]] in when[1]):
            continue
        if kind == "cat":
            values[name] = trial.suggest_categorical(name, spec)
        elif kind == "int":
            values[name] = trial.suggest_int(name, spec[0], spec[1], log=spec[2])
        else:
            values[name] = trial.suggest_float(name, spec[0], spec[1], log=spec[2])
    return values


def conditional_point(problem, pairs):
    """NAME=VALUE arguments as the point's dict: exactly the parameters active at it, each typed."""
    params = CONDITIONAL[problem][0]
    given = dict(pair.split("=", 1) for pair in pairs)
    values = {}
    for name, kind, spec, when in active_in_order(params, given):
        text = given[name]
        values[name] = text if kind == "cat" else int(text) if kind == "int" else float(text)
    extra = set(given) - set(values)
    if extra:
        raise SystemExit(f"inactive or unknown parameters given: {sorted(extra)}")
    return values


def active_in_order(params, given):
    """The parameters active for the given texts (parents first), failing on a missing one."""
    out, values = [], {}
    for q in params:
        name, kind, spec, when = q
        if when is not None and not (when[0] in values and values[when[0]] in when[1]):
            continue
        if name not in given:
            raise SystemExit(f"missing active parameter {name}")
        values[name] = given[name] if kind == "cat" else int(given[name]) if kind == "int" else float(given[name])
        out.append(q)
    return out


def conditional(args):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    import warnings
    warnings.filterwarnings("ignore")
    names = list(CONDITIONAL) if args.problems == "all" else args.problems.split(",")
    for name in names:
        params, minimum, f = CONDITIONAL[name]
        for sampler_name in args.samplers.split(","):
            for seed in range(args.seeds):
                start = time.perf_counter()
                study = optuna.create_study(sampler=make_sampler(optuna, sampler_name, seed))
                best, trace = math.inf, []
                for _ in range(args.budget):
                    trial = study.ask()
                    v = f(suggest_conditional(trial, params))
                    study.tell(trial, v)
                    best = min(best, v)
                    trace.append(best)
                print(json.dumps({"function": name, "strategy": "optuna-" + sampler_name, "seed": seed,
                                  "slots": 1, "minimum": minimum, "best_so_far": trace,
                                  "seconds": time.perf_counter() - start}), flush=True)


def zdt_g(x):
    return 1 + 9 * sum(x[1:]) / (len(x) - 1)


def zdt1(x):
    g = zdt_g(x)
    return [x[0], g * (1 - math.sqrt(x[0] / g))], []


def zdt2(x):
    g = zdt_g(x)
    return [x[0], g * (1 - (x[0] / g) ** 2)], []


def zdt3(x):
    g = zdt_g(x)
    r = x[0] / g
    return [x[0], g * (1 - math.sqrt(r) - r * math.sin(10 * math.pi * x[0]))], []


def dtlz2(x):
    g = sum((v - 0.5) ** 2 for v in x[2:])
    a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
    return [(1 + g) * math.cos(a) * math.cos(b), (1 + g) * math.cos(a) * math.sin(b), (1 + g) * math.sin(a)], []


def binh_korn(x):
    return ([4 * x[0] ** 2 + 4 * x[1] ** 2, (x[0] - 5) ** 2 + (x[1] - 5) ** 2],
            [(x[0] - 5) ** 2 + x[1] ** 2, (x[0] - 8) ** 2 + (x[1] + 3) ** 2])


# name: (params, objectives, constraints as (min, max) with None for no bound, function)
PARETO = {
    "zdt1": (box(6, 0, 1), 2, [], zdt1),
    "zdt2": (box(6, 0, 1), 2, [], zdt2),
    "zdt3": (box(6, 0, 1), 2, [], zdt3),
    "dtlz2": (box(6, 0, 1), 3, [], dtlz2),
    "binh_korn": ([("x0", 0, 5, False), ("x1", 0, 3, False)], 2, [(None, 25.0), (7.7, None)], binh_korn),
}


def violations(constraints, values):
    """Optuna's constraints_func form: one number per constraint, feasible when <= 0."""
    return [max(lo - v if lo is not None else -math.inf, v - hi if hi is not None else -math.inf)
            for (lo, hi), v in zip(constraints, values)]


def pareto(args):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    import warnings
    warnings.filterwarnings("ignore")
    names = list(PARETO) if args.problems == "all" else args.problems.split(",")
    for name in names:
        params, m, constraints, f = PARETO[name]
        constraints_func = (lambda t: t.user_attrs["violations"]) if constraints else None
        for sampler_name in args.samplers.split(","):
            for seed in range(args.seeds):
                start = time.perf_counter()
                if sampler_name == "nsga2":
                    sampler = optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints_func)
                elif sampler_name == "motpe":
                    sampler = optuna.samplers.TPESampler(seed=seed, constraints_func=constraints_func)
                else:
                    raise SystemExit(f"unknown sampler {sampler_name}")
                study = optuna.create_study(directions=["minimize"] * m, sampler=sampler)
                objectives, feasible = [], []
                for _ in range(args.budget):
                    trial = study.ask()
                    x = [trial.suggest_float(p, lo, hi, log=log) for p, lo, hi, log in params]
                    values, cvalues = f(x)
                    v = violations(constraints, cvalues)
                    trial.set_user_attr("violations", v)
                    study.tell(trial, values)
                    objectives.append(values)
                    feasible.append(all(c <= 0 for c in v))
                print(json.dumps({"problem": name, "strategy": "optuna-" + sampler_name, "seed": seed,
                                  "objectives": objectives, "feasible": feasible,
                                  "seconds": time.perf_counter() - start}), flush=True)


def make_sampler(optuna, name, seed):
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "tpe_mv":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if name == "tpe_mvg":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise SystemExit(f"unknown sampler {name}")


class UnitCube:
    """The encoding of the model peers: each parameter as coordinates of [0, 1]. A float (or int)
    is one coordinate, in log space when log-scaled; an int is rounded when decoded; a categorical
    is one-hot (one coordinate per choice, the largest wins). A parameter is (name, lo, hi, log)
    as in FUNCTIONS, or (name, "int", (lo, hi, log)) / (name, "cat", [choices])."""

    def __init__(self, params):
        self.params = [p if len(p) == 3 else (p[0], "float", (p[1], p[2], p[3])) for p in params]
        self.dims = sum(len(spec) if kind == "cat" else 1 for _, kind, spec in self.params)
        self.has_categorical = any(kind == "cat" for _, kind, _ in self.params)

    def decode(self, u):
        out, k = [], 0
        for _, kind, spec in self.params:
            if kind == "cat":
                out.append(spec[max(range(len(spec)), key=lambda i: u[k + i])])
                k += len(spec)
                continue
            lo, hi, log = spec
            v = math.exp(math.log(lo) + u[k] * (math.log(hi) - math.log(lo))) if log else lo + u[k] * (hi - lo)
            v = min(max(v, lo), hi)
            out.append(int(round(v)) if kind == "int" else v)
            k += 1
        return out


def expected_improvement(mean, sd, best, xi):
    """EI for minimization, as scikit-optimize's gaussian_ei: E[max(best - xi - Y, 0)]."""
    import numpy as np
    from scipy.stats import norm
    sd = np.maximum(sd, 1e-12)
    improvement = best - xi - mean
    z = improvement / sd
    return improvement * norm.cdf(z) + sd * norm.pdf(z)


class CubeModel:
    """What gp-ei and rf-ei share: the unit cube of the space, a seeded generator, the points so far."""

    def __init__(self, params, seed):
        import numpy as np
        self.np = np
        self.cube = UnitCube(params)
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.xs, self.ys = [], []


class GpEi(CubeModel):
    """`gp-ei`: the textbook GP with expected improvement, in the manner of scikit-optimize's
    gp_minimize: scikit-learn's GaussianProcessRegressor with ConstantKernel x Matern-5/2 (one
    lengthscale per coordinate, bounds 1e-2..1e2) + WhiteKernel, normalize_y, 2 optimizer restarts;
    10 random initial points; EI (xi = 0.01) maximised over 10,000 random candidates, then L-BFGS-B
    from the 5 best (skipped when the space has categoricals, as skopt does)."""

    INITIAL, CANDIDATES, STARTS, XI = 10, 10000, 5, 0.01


    def ask(self):
        np = self.np
        if len(self.xs) < self.INITIAL:
            return self.cube.decode(self.rng.random(self.cube.dims))
        from scipy.optimize import minimize
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
        d = self.cube.dims
        kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * Matern(np.ones(d), (1e-2, 1e2), nu=2.5) +
                  WhiteKernel(1e-2, (1e-6, 1e1)))
        gp = GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=2,
                                      random_state=int(self.rng.integers(2 ** 31)))
        x, y = np.array(self.xs), np.array(self.ys)
        gp.fit(x, y)
        best = y.min()

        def ei(points):
            mean, sd = gp.predict(points, return_std=True)
            return expected_improvement(mean, sd, best, self.XI)

        cand = self.rng.random((self.CANDIDATES, d))
        values = ei(cand)
        order = np.argsort(-values)[:self.STARTS]
        point, value = cand[order[0]], values[order[0]]
        if not self.cube.has_categorical:
            h = 1e-6

            def negative_ei(u):
                # Forward differences in one batched prediction (backward at the upper bound).
                steps = np.where(u + h <= 1, h, -h)
                batch = np.vstack([u, u + np.diag(steps)])
                v = ei(batch)
                return -v[0], -(v[1:] - v[0]) / steps

            for j in order:
                r = minimize(negative_ei, cand[j], jac=True, method="L-BFGS-B", bounds=[(0, 1)] * d,
                             options={"maxiter": 50})
                u = np.clip(r.x, 0, 1)
                v = ei(u[None, :])[0]
                if v > value:
                    point, value = u, v
        return self.cube.decode(point)

    def tell(self, x, value):
        self.xs.append(encode_back(self.cube, x))
        self.ys.append(value)


class RfEi(CubeModel):
    """`rf-ei`: SMAC-like (SMAC3's HPO facade, simplified): a random forest of 10 trees (bootstrap,
    5/6 of the features per split, min_samples_split = min_samples_leaf = 3), the mean and spread
    (standard deviation) of the trees' predictions as the model, EI (xi = 0) maximised over 5,000
    random points plus a local search (one coordinate moved per neighbour, N(0, 0.2) in the unit
    cube, d neighbours a step) from the 10 best observed points and the 5 best random ones; 10 random initial points, and
    one suggestion in five a random point (SMAC's random interleaving, probability 0.2)."""

    INITIAL, CANDIDATES, RANDOM_PROBABILITY = 10, 5000, 0.2


    def ask(self):
        np = self.np
        d = self.cube.dims
        if len(self.xs) < self.INITIAL or self.rng.random() < self.RANDOM_PROBABILITY:
            return self.cube.decode(self.rng.random(d))
        from sklearn.ensemble import RandomForestRegressor
        forest = RandomForestRegressor(n_estimators=10, max_features=5 / 6, min_samples_split=3, min_samples_leaf=3,
                                       bootstrap=True, random_state=int(self.rng.integers(2 ** 31)))
        x, y = np.array(self.xs), np.array(self.ys)
        forest.fit(x, y)
        best = y.min()

        def ei(points):
            per_tree = np.stack([t.predict(points) for t in forest.estimators_])
            return expected_improvement(per_tree.mean(axis=0), per_tree.std(axis=0), best, 0.0)

        cand = self.rng.random((self.CANDIDATES, d))
        cand_values = ei(cand)
        # Hill climbing from every start at once (one batched prediction per step): each start
        # moves to the best of its d neighbours (coordinate i moved in the i-th) while that improves,
        # 20 steps at most.
        u = np.vstack([x[np.argsort(y)[:10]], cand[np.argsort(-cand_values)[:5]]])
        v = ei(u)
        r = len(u)
        for _ in range(20):
            neighbours = np.repeat(u, d, axis=0)
            rows, cols = np.arange(r * d), np.tile(np.arange(d), r)
            neighbours[rows, cols] = np.clip(neighbours[rows, cols] + 0.2 * self.rng.standard_normal(r * d), 0, 1)
            nv = ei(neighbours).reshape(r, d)
            j = np.argmax(nv, axis=1)
            better = nv[np.arange(r), j] > v
            if not better.any():
                break
            u[better] = neighbours.reshape(r, d, d)[np.arange(r), j][better]
            v[better] = nv[np.arange(r), j][better]
        point, value = cand[np.argmax(cand_values)], cand_values.max()
        if v.max() > value:
            point = u[np.argmax(v)]
        return self.cube.decode(point)

    def tell(self, x, value):
        self.xs.append(encode_back(self.cube, x))
        self.ys.append(value)


def encode_back(cube, values):
    """A decoded point's unit coordinates (before snapping)."""
    out = []
    for (_, kind, spec), v in zip(cube.params, values):
        if kind == "cat":
            out += [1.0 if c == v else 0.0 for c in spec]
        else:
            lo, hi, log = spec
            out.append((math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)) if log else (v - lo) / (hi - lo))
    return out


class OptunaTool:
    def __init__(self, optuna, sampler_name, params, seed):
        self.study = optuna.create_study(sampler=make_sampler(optuna, sampler_name, seed))
        self.params = params
        self.trial = None

    def ask(self):
        self.trial = self.study.ask()
        return [self.trial.suggest_float(p, lo, hi, log=log) for p, lo, hi, log in self.params]

    def tell(self, x, value):
        self.study.tell(self.trial, value)


MODEL_PEERS = {"gp-ei": GpEi, "rf-ei": RfEi}


def quality(args):
    import numpy as np
    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    import warnings
    warnings.filterwarnings("ignore")
    for name in function_names(args.functions):
        params, minimum, f = FUNCTIONS[name]
        noise = NOISY.get(name, (None, 0.0))[1]
        for sampler_name in args.samplers.split(","):
            for seed in range(args.first_seed, args.seeds):
                start = time.perf_counter()
                if sampler_name in MODEL_PEERS:
                    tool, label = MODEL_PEERS[sampler_name](params, seed), sampler_name
                else:
                    tool, label = OptunaTool(optuna, sampler_name, params, seed), "optuna-" + sampler_name
                # The noise of evaluation k of seed s is the same draw for every tool.
                noise_rng = np.random.default_rng([22, seed])
                best, incumbent_value, trace = math.inf, math.inf, []
                for _ in range(args.budget):
                    x = tool.ask()
                    clean = f(x)
                    v = clean + noise * noise_rng.standard_normal() if noise else clean
                    tool.tell(x, v)
                    # The incumbent: the best observed (noisy) value; scored by its noise-free value.
                    if v < best:
                        best, incumbent_value = v, clean
                    trace.append(incumbent_value)
                out = {"function": name, "strategy": label, "seed": seed, "slots": 1, "minimum": minimum,
                       "best_so_far": trace, "seconds": time.perf_counter() - start}
                if noise:
                    out["noise_sd"] = noise
                print(json.dumps(out), flush=True)


def latency(args):
    import numpy as np
    import optuna
    import warnings
    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
    rng = np.random.default_rng(1)
    for d in [int(v) for v in args.d.split(",")]:
        for n in [int(v) for v in args.n.split(",")]:
            x = rng.random((n, d))
            y = np.sin(3 * x + np.arange(d)).sum(axis=1) + ((x - 0.4) ** 2).sum(axis=1)
            # Optuna TPE: a study holding n finished trials, then ask() + suggest for every parameter.
            dists = {f"x{i}": optuna.distributions.FloatDistribution(0, 1) for i in range(d)}
            study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
            study.add_trials([optuna.trial.create_trial(params={f"x{i}": float(x[j, i]) for i in range(d)},
                                                        distributions=dists, value=float(y[j])) for j in range(n)])
            times = []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                trial = study.ask()
                for i in range(d):
                    trial.suggest_float(f"x{i}", 0, 1)
                times.append(time.perf_counter() - t0)
                study.tell(trial, 0.0)
            print(json.dumps({"tool": "optuna-tpe", "n": n, "d": d, "reps": args.reps,
                              "p50_s": float(np.percentile(times, 50)), "p95_s": float(np.percentile(times, 95))}),
                  flush=True)
            # scikit-learn GP: Matern-5/2 ARD + white noise, one optimizer start (its default).
            reps = args.reps if n <= 500 else max(1, args.reps // 5)
            if n > args.sklearn_max_n:
                print(json.dumps({"tool": "sklearn-gp", "n": n, "d": d, "skipped": "n > --sklearn-max-n"}),
                      flush=True)
                continue
            if n * n * (d + 3) * 8 > 2e9:
                print(json.dumps({"tool": "sklearn-gp", "n": n, "d": d, "skipped": "kernel gradient needs > 2 GB"}),
                      flush=True)
                continue
            times, fits = [], []
            cand = rng.random((2048, d))
            for _ in range(reps):
                kernel = ConstantKernel(1.0) * Matern(length_scale=np.ones(d), nu=2.5) + WhiteKernel(1e-4)
                gp = GaussianProcessRegressor(kernel=kernel, normalize_y=True, random_state=0)
                t0 = time.perf_counter()
                gp.fit(x, y)
                t1 = time.perf_counter()
                gp.predict(cand, return_std=True)
                times.append(time.perf_counter() - t0)
                fits.append(t1 - t0)
            print(json.dumps({"tool": "sklearn-gp", "n": n, "d": d, "reps": reps,
                              "p50_s": float(np.percentile(times, 50)), "p95_s": float(np.percentile(times, 95)),
                              "fit_p50_s": float(np.percentile(fits, 50))}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--functions", default="all")
    q.add_argument("--samplers", default="tpe,tpe_mv,random")
    q.add_argument("--seeds", type=int, default=20, help="run seeds FIRST_SEED..SEEDS-1")
    q.add_argument("--first-seed", type=int, default=0)
    q.add_argument("--budget", type=int, default=100)
    lat = sub.add_parser("latency")
    lat.add_argument("--n", default="100,500,1000,2000")
    lat.add_argument("--d", default="2,6,10,20")
    lat.add_argument("--reps", type=int, default=5)
    lat.add_argument("--sklearn-max-n", type=int, default=100000,
                     help="skip scikit-learn above this n (its fit takes minutes at n >= 1000)")
    par = sub.add_parser("pareto")
    par.add_argument("--problems", default="all")
    par.add_argument("--samplers", default="nsga2,motpe")
    par.add_argument("--seeds", type=int, default=20)
    par.add_argument("--budget", type=int, default=100)
    con = sub.add_parser("conditional")
    con.add_argument("--problems", default="all")
    con.add_argument("--samplers", default="tpe_mvg,tpe")
    con.add_argument("--seeds", type=int, default=20)
    con.add_argument("--budget", type=int, default=100)
    evc = sub.add_parser("evaluate-conditional")
    evc.add_argument("problem", choices=sorted(CONDITIONAL))
    evc.add_argument("values", nargs="*", help="NAME=VALUE for each active parameter")
    ev = sub.add_parser("evaluate")
    ev.add_argument("function", choices=sorted(FUNCTIONS))
    ev.add_argument("x", type=float, nargs="+")
    evp = sub.add_parser("evaluate-pareto")
    evp.add_argument("problem", choices=sorted(PARETO))
    evp.add_argument("x", type=float, nargs="+")
    args = parser.parse_args()
    if args.mode == "evaluate":
        print(f"hpt: value={FUNCTIONS[args.function][2](args.x)!r}")
    elif args.mode == "evaluate-conditional":
        print(f"hpt: value={CONDITIONAL[args.problem][2](conditional_point(args.problem, args.values))!r}")
    elif args.mode == "evaluate-pareto":
        values, cvalues = PARETO[args.problem][3](args.x)
        print("hpt: " + " ".join([f"f{i}={v!r}" for i, v in enumerate(values)] +
                                 [f"c{i}={v!r}" for i, v in enumerate(cvalues)]))
    else:
        {"quality": quality, "latency": latency, "pareto": pareto, "conditional": conditional}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
