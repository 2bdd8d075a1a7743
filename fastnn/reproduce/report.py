"""report.md: the tables of :mod:`tables` with the prose that explains and compares them."""

from __future__ import annotations

import numpy as np

from fastnn import backends
from fastnn.reporting.formatting import (
    faster,
    format_ratio,
    markdown_rows,
    mean_std_percent,
    percent,
    ratio_words,
    sample_std,
    sizes_label,
)
from fastnn.reporting.machine import MachineRecord, revision_text
from fastnn.reproduce.speedup import LOOP, VECTORISED
from fastnn.reproduce.tables import (
    accuracy_table,
    checks_summary,
    checks_table,
    epoch_time_table,
    keras_table,
    seconds,
    speedup_table,
    tutorial_a_time_table,
)
from fastnn.reproduce.training_timing import FULL_BATCH, PER_SAMPLE

PLOTS = {
    "speedup.png": "Table 1 as bars: speedup over the tutorial's loop",
    "loss_tutorial_a.png": "Tutorial A: training loss (mse) per pass",
    "loss_tutorial_b.png": "Tutorial B: training loss (cross-entropy) per epoch",
    "loss_tutorial_c.png": "Tutorial C: train and test loss per epoch",
    "loss_tutorial_c_shortcuts.png": "Tutorial C's gradient shortcuts against the true gradient",
}


def report_markdown(results, command):
    """The whole report.md."""
    settings = results.settings
    label = "" if settings.is_full else f" - {settings.label.upper()} RUN (reduced settings)"
    sections = [
        f"# fastnn reproduce: the tutorials' figures on this machine{label}",
        _intro(results, command),
        "## 1. Feed-forward speedup (tutorial A)",
        _speedup_notes(results),
        speedup_table(results),
        _speedup_differences(results),
        "![speedup](speedup.png)",
        "## 2. Training (tutorials A, B, C)",
        _training_notes(results),
        accuracy_table(results),
        _accuracy_differences(results),
        "### Training time, tutorial A (64-30-10 on 1078 images)",
        _tutorial_a_time_notes(results),
        tutorial_a_time_table(results),
        _tutorial_a_time_differences(results),
        "### Training time, tutorials B and C (full batch, per epoch)",
        epoch_time_table(results),
        "![tutorial A loss](loss_tutorial_a.png)\n![tutorial B loss](loss_tutorial_b.png)\n"
        "![tutorial C loss](loss_tutorial_c.png)",
        "### Tutorial C's gradient shortcuts",
        shortcut_section(results),
        "![shortcuts](loss_tutorial_c_shortcuts.png)",
        "### Tutorial C's Keras model, side by side",
        keras_section(results),
        "## 3. Literal checks",
        checks_table(results),
        checks_summary(results),
        "## Run",
        _run_details(results, command),
    ]
    return "\n\n".join(sections) + "\n"


def _speedup_notes(results):
    settings = results.settings
    return (
        "One sample through the network, as the tutorial timed it with `%timeit`. "
        "*Tutorial's code*: its looped feed-forward (nested loops indexing the NumPy weight "
        "matrices element by element, `f_sum += w[l][i][j] * node_in[j]`, W as (out, in)) and "
        "its vectorised one (`z = w[l].dot(h) + b[l]`), both in "
        "`fastnn/reproduce/tutorial_code.py`. *Backends*: `backend.forward(spec, params, X)` "
        "on a (1, n) batch - the backend interface, below `MLP`'s input validation. "
        "Every implementation's output is checked against the loop before timing.\n\n"
        "Networks: tutorial A's own 3-3-1 example (its weights and input); 3-3-3-1 for the "
        "tutorial's unnamed \"small 4-layer\" network (the 3-3-1 with one more hidden layer "
        "of three: 21 multiply-adds over 7 neurons against 12 over 4, both ratios 1.75, the "
        "ratio of the tutorial's looped times 70/40 µs); 100-100-50-10 with seeded U[0, 1) "
        "weights.\n\n"
        f"Each cell: median over {settings.timing_rounds} interleaved rounds of at least "
        f"{settings.timing_min_time:g} s each (`timeit`), IQR as a percentage of the median. "
        "Speedups are ratios of medians.")


def _speedup_differences(results):
    lines = ["**How this machine differs from the tutorial's, and why (measured):**", ""]
    for row in results.speedup_rows:
        tutorial_loop = row.tutorial.get("loop")
        loop = row.timings[LOOP].median
        if tutorial_loop:
            lines.append(
                f"- {sizes_label(row.layer_sizes)}: the loop takes {seconds(loop)} here "
                f"against the tutorial's {seconds(tutorial_loop)} "
                f"({faster(tutorial_loop / loop)} here); per multiply-add "
                f"{seconds(loop / row.multiply_adds)} here, "
                f"{seconds(tutorial_loop / row.multiply_adds)} in the tutorial.")
    small, large = results.speedup_rows[0], results.speedup_rows[-1]
    growth_loop = large.timings[LOOP].median / small.timings[LOOP].median
    growth_vec = large.timings[VECTORISED].median / small.timings[VECTORISED].median
    work = large.multiply_adds / small.multiply_adds
    lines += [
        f"- Going from {sizes_label(small.layer_sizes)} to {sizes_label(large.layer_sizes)} "
        f"multiplies the work by {work:.0f}; the loop's time grows {growth_loop:.0f}-fold, the "
        f"tutorial's vectorised code's only {growth_vec:.1f}-fold. The loop pays Python's "
        f"interpreter and NumPy's scalar indexing per multiply-add; the vectorised time of "
        f"small networks is almost all per-call overhead. So absolute times mostly measure "
        f"the CPU and the Python/NumPy versions (here Python {results.machine['python']}, "
        f"NumPy {results.machine['numpy']}); compare the ratios.",
        f"- The tutorial's \"500 fold\" (41 ms / 84 µs = 488×) is "
        f"{format_ratio(large.speedup(VECTORISED))} here for the tutorial's own code: "
        f"{ratio_words(large.speedup(VECTORISED) / 488)} the tutorial's. "
        + _ratio_reason(large),
    ]
    for name in compiled_backends(results.backends):
        lines.append(
            f"- {name.capitalize()} beyond the tutorial: on {sizes_label(large.layer_sizes)} "
            f"the {name} backend is {faster(large.speedup(name))} than the loop and "
            f"{faster(large.timings[VECTORISED].median / large.timings[name].median)} "
            f"than the tutorial's vectorised code; on {sizes_label(small.layer_sizes)}, where "
            f"NumPy's per-call overhead dominates, "
            f"{faster(small.timings[VECTORISED].median / small.timings[name].median)} "
            f"than the vectorised code.")
    return "\n".join(lines)


def compiled_backends(names):
    """The backends of ``names`` that declare they compile (Numba's)."""
    return [name for name in names if backends.get(name).compiles]


def _ratio_reason(row):
    """Why the loop/vectorised ratio moved: which of the two sped up more than the other."""
    tutorial_loop, tutorial_vec = row.tutorial.get("loop"), row.tutorial.get("vectorised")
    if not (tutorial_loop and tutorial_vec):
        return ""
    loop_gain = tutorial_loop / row.timings[LOOP].median
    vec_gain = tutorial_vec / row.timings[VECTORISED].median
    return (f"Against the tutorial's machine the loop runs {faster(loop_gain)} and the "
            f"vectorised code {faster(vec_gain)}: the ratio moves by the quotient of the two "
            f"(vectorised gain over loop gain), "
            f"{format_ratio(vec_gain / loop_gain)}. The interpreter-bound loop and the "
            f"call-overhead-bound vectorised call do not speed up alike between machines and "
            f"versions.")


def _training_notes(results):
    seeds = ", ".join(str(seed) for seed in results.settings.seeds)
    return (
        "All three are full-batch gradient descent on fastnn's mean loss with fastnn's true "
        "gradients (`backend.train_step`), on the backend measured fastest below. Seeds: "
        f"{seeds}; each seeds `numpy.random.default_rng` for the initial parameters (and, for "
        "tutorial A, `train_test_split`'s `random_state`; the tutorial's split was unseeded).\n\n"
        "- **A**: `load_digits`, `StandardScaler`, `train_test_split(test_size=0.4)`, one-hot "
        "targets; 64-30-10, sigmoid, mse, weights and biases U[0, 1) (`init=\"uniform01\"`), "
        "alpha 0.25. The tutorial accumulates per-sample gradients and updates once per pass "
        "with `alpha * (1/m) * sum`: that is one `train_step` on the whole batch with "
        f"lr = alpha (measured: after 2 passes the two differ by "
        f"{results.per_sample_vs_full_batch:.1e}, relative).\n"
        "- **B**: the three clouds exactly as `np.random.seed(1); randn(500, 2)` drew them "
        "(`datasets.gaussian_clouds`); 2-5-3, sigmoid + softmax, cross-entropy, N(0, 1) "
        "weights and biases (the tutorial's `randn`). Its lr 1e-5 on the summed gradient "
        "is 1e-5 × 1500 = 0.015 on fastnn's mean. Accuracy on the 1500 training points, as "
        "the tutorial reports it.\n"
        "- **C**: `MinMaxScaler`, `OneHotEncoder`, `train_test_split(test_size=0.2, "
        "random_state=42)`; 64-64-10, sigmoid hidden, softmax output, categorical "
        "cross-entropy, lr 0.1; train and test loss recorded every epoch. The tutorial does "
        "not state its initialisation or its accuracy; Glorot (fastnn's sigmoid default) is "
        "used. Its Keras comparison is the last part of this section.")


def _accuracy_differences(results):
    lines = []
    for key, experiment in results.experiments.items():
        values = np.array([run.accuracy for run in results.runs[key]])
        per_seed = ", ".join(f"seed {run.seed}: {percent(run.accuracy)}"
                             for run in results.runs[key])
        if experiment.tutorial_accuracy is None:
            lines.append(f"- Tutorial {key}: no figure in the tutorial to compare with "
                         f"({per_seed}).")
            continue
        tutorial = experiment.tutorial_accuracy
        gap = values.mean() - tutorial
        spread = sample_std(values)
        within = abs(gap) <= max(2 * spread, 0.01)
        if within:
            distance = "within two standard deviations of the seeds, or 1 point"
        elif spread > 0:
            distance = f"{abs(gap) / spread:.1f} standard deviations"
        else:
            distance = "one seed only"
        closest = values[np.argmin(np.abs(values - tutorial))]
        lines.append(
            f"- Tutorial {key}: {percent(values.mean())} against {percent(tutorial)} "
            f"({gap * 100:+.1f} points, {distance}; closest seed "
            f"{(closest - tutorial) * 100:+.1f} points; {per_seed}). "
            + _accuracy_reason(key, within, results.settings))
    return "**Differences:**\n\n" + "\n".join(lines)


def _accuracy_reason(key, within, settings):
    if not settings.is_full:
        return ("This is a reduced run: fewer epochs than the tutorial, so lower accuracy "
                "is expected.")
    if within:
        return "The tutorial's single run is one draw from this spread."
    if key == "A":
        return ("The tutorial reports a single unseeded run (one split, one initialisation) "
                "that cannot be recreated; the seeds here vary both, and the closest seed's "
                "distance to the tutorial's figure shows how far one draw can land.")
    return "The tutorial reports one run with its own random draws."


def _tutorial_a_time_notes(results):
    return (
        "The tutorial's algorithm is a Python loop over the training images calling the "
        "backend's per-sample `gradients`, summing, and updating once per pass "
        "(`training.per_sample_pass`). The full-batch form is one `train_step` per pass. "
        "Each cell is the median over interleaved rounds (IQR as a percentage of the median "
        "in parentheses); "
        "*extrapolated* totals are the median time per pass times the number of passes, "
        "with how much was measured. The tutorial says its run \"may take a few minutes\".")


def _tutorial_a_time_differences(results):
    by_key = {(t.backend, t.form): t for t in results.tutorial_a_timings}
    per_sample = {name: by_key[(name, PER_SAMPLE)].total for name in results.backends}
    full = {name: by_key[(name, FULL_BATCH)].total for name in results.backends}
    fastest = min(full, key=full.get)
    vectorised = backends.reference_backend(time_limited_ok=False)
    passes = results.experiments["A"].epochs
    per_sample_text = ", ".join(f"{name} ≈ {seconds(value)}" for name, value in per_sample.items())
    lines = [
        f"- The tutorial's 3000-pass per-sample run \"may take a few minutes\"; here "
        f"{passes} passes of the same algorithm take {per_sample_text}.",
        f"- The full-batch form (the same arithmetic, one call per pass instead of one per "
        f"image) takes {seconds(full[fastest])} on {fastest}: "
        f"{format_ratio(per_sample[vectorised] / full[fastest])} less time than the per-sample "
        f"loop on {vectorised}. "
        f"The per-sample loop pays a Python call and small-array overhead per image, "
        f"{seconds(per_sample[vectorised] / passes / samples_per_pass(results))}"
        f" per image on {vectorised}.",
    ]
    return "**Differences:**\n\n" + "\n".join(lines)


def samples_per_pass(results):
    """Training samples of one pass of tutorial A."""
    return results.tutorial_a_timings[0].training_samples


def shortcut_section(results):
    """Tutorial C's shortcuts: gradient errors on one batch and whole training runs."""
    gradient_rows = []
    for check in results.gradient_checks:
        gradient_rows.append([check.loss, f"{check.true_error:.1e}", f"{check.shortcut_error:.2g}"])
    training_rows = []
    for loss, (true_runs, shortcut_runs) in results.shortcut_runs.items():
        for label, runs in (("true (fastnn)", true_runs), ("tutorial C's shortcut", shortcut_runs)):
            final = np.array([run.final_train_loss for run in runs])
            accuracy = np.array([run.accuracy for run in runs])
            training_rows.append([loss, label, f"{np.median(final):.4g}",
                                  mean_std_percent(accuracy)])
    epochs = results.settings.epochs_c
    return "\n\n".join([
        "Tutorial C's mse and log_loss paths put the derivative with respect to the output "
        "activation where the derivative with respect to the pre-activation belongs: mse "
        "drops the sigmoid derivative (`Y - T` instead of `(Y - T) Y (1 - Y)`), log_loss "
        "keeps the factor that cancels (`(Y - T) / (Y (1 - Y))` instead of `Y - T`). Its "
        "softmax + categorical cross-entropy path (the experiment above) is right. The "
        "shortcut is implemented in `tutorial_code.shortcut_gradients`; here it is run on "
        "tutorial C's set-up with a sigmoid output.",
        f"Gradient on {20} training images against central finite differences of the loss "
        "(relative difference, norm-wise):",
        markdown_rows(["loss", "fastnn's gradient", "tutorial C's gradient"], gradient_rows),
        f"Training {epochs} epochs at lr 0.1 from the same seeds (loss: fastnn's mean loss, "
        "the quantity both claim to minimise; median over seeds):",
        markdown_rows(["loss", "gradient", "final training loss", "test accuracy"],
                      training_rows),
        _shortcut_reading(results),
    ])


def _shortcut_reading(results):
    lines = []
    mse = results.shortcut_runs.get("mse")
    if mse:
        true_loss = np.median([run.final_train_loss for run in mse[0]])
        short_loss = np.median([run.final_train_loss for run in mse[1]])
        verdict = "lower" if short_loss < true_loss else "higher"
        lines.append(
            f"- mse: the shortcut is not the mse gradient, but it is the gradient of binary "
            f"cross-entropy and points downhill for mse too (the missing factor Y (1 - Y) is "
            f"positive). Here it ends {verdict} ({short_loss:.3g} against {true_loss:.3g}): "
            f"the true mse gradient is scaled down by Y (1 - Y) <= 1/4, so at the same lr it "
            f"takes smaller steps. A faster descent is not a correct gradient; it cannot be "
            f"checked, tuned or combined with other losses as one.")
    bce = results.shortcut_runs.get("binary_cross_entropy")
    if bce:
        short_loss = np.median([run.final_train_loss for run in bce[1]])
        true_loss = np.median([run.final_train_loss for run in bce[0]])
        lines.append(
            f"- log_loss: dividing by Y (1 - Y) blows the step up wherever an output "
            f"saturates; training ends at loss {short_loss:.3g} against the true gradient's "
            f"{true_loss:.3g}.")
    return "\n".join(lines)


def keras_section(results):
    """Tutorial C's Keras model against the same model in fastnn: notes, table, reading."""
    comparison = results.keras
    notes = (
        "The tutorial's Keras code as written: `Sequential([Dense(64, activation=\"relu\"), "
        "Dense(10, activation=\"softmax\")])`, `compile(optimizer=\"adam\", "
        "loss=\"categorical_crossentropy\")`, `fit(X_train, y_train, epochs=1000)` with "
        "Keras's default batch size (32) and shuffling, on tutorial C's data (MinMax-scaled "
        "digits, 80/20 split, `random_state=42`), seeded with `keras.utils.set_random_seed`. "
        "The same network in fastnn (`fastnn/reproduce/keras_model.py`): 64 ReLU units, "
        "softmax, mean cross-entropy, Adam with Keras's defaults (lr 1e-3, β₁ 0.9, β₂ 0.999, "
        "ε 1e-7), batches of 32, shuffled, no L2, Keras's initialisation (Glorot uniform, "
        "zero biases) drawn from `default_rng(seed)`, float32 as Keras. fastnn's Adam step "
        "is Keras 3's (bias correction in the step size, ε added to √v); "
        "`tests/test_reproduce_keras.py` checks that from Keras's initial weights and batch "
        "order fastnn follows Keras's loss curve to float32 rounding. Per seed Keras trains "
        "first, then fastnn; every thread of the process is held to one CPU. Training "
        "times are wall times of the whole run, without Keras's XLA compile (its first "
        "epoch's extra time, reported below) and without fastnn's Numba compile (warmed "
        "up before).")
    parts = [notes, keras_table(results)]
    if comparison is not None and comparison.available:
        parts.append(_keras_reading(results))
    return "\n\n".join(parts)


def _keras_reading(results):
    comparison = results.keras
    keras_acc = np.array([run.accuracy for run in comparison.keras_runs])
    fastnn_acc = np.array([run.accuracy for run in comparison.fastnn_runs])
    spread = max(sample_std(keras_acc), sample_std(fastnn_acc))
    gap = fastnn_acc.mean() - keras_acc.mean()
    if spread > 0:
        verdict = f"{abs(gap) / spread:.1f} times the larger of the two seed spreads"
    else:
        verdict = "one seed, or identical runs: no spread to compare with"
    keras_time = np.median([run.train_seconds for run in comparison.keras_runs])
    fastnn_time = np.median([run.train_seconds for run in comparison.fastnn_runs])
    compile_time = np.median([run.compile_seconds for run in comparison.keras_runs])
    utilisation = [run.cpu_per_wall for run in comparison.keras_runs + comparison.fastnn_runs]
    per_seed = ", ".join(
        f"seed {k.seed}: Keras {percent(k.accuracy)}, fastnn {percent(f.accuracy)}"
        for k, f in zip(comparison.keras_runs, comparison.fastnn_runs))
    clipped_keras = np.mean([run.clipped for run in comparison.keras_runs])
    clipped_fastnn = np.mean([run.clipped for run in comparison.fastnn_runs])
    epochs, batches = comparison.epochs, comparison.batches_per_epoch
    lines = [
        f"- Accuracy: fastnn {gap * 100:+.1f} points against Keras ({verdict}; {per_seed}). "
        "The two runs of a seed start from different draws and shuffle differently, so "
        "only the distributions compare." + ("" if results.settings.is_full else
                                             " A reduced run: fewer epochs than the "
                                             "tutorial's 1000."),
        f"- Time: {epochs} epochs of {batches} batches of 32 take "
        f"{seconds(keras_time)} in Keras and {seconds(fastnn_time)} in fastnn "
        f"({comparison.backend}) - fastnn {faster(keras_time / fastnn_time)}; per step "
        f"{seconds(keras_time / (epochs * batches))} against "
        f"{seconds(fastnn_time / (epochs * batches))}. Keras's `fit` is a Python loop that "
        "dispatches one compiled XLA step per batch (with its callbacks and metric "
        f"updates); {_fastnn_epoch(comparison.backend)} "
        f"Keras also compiles its training step for every new model: "
        f"{seconds(compile_time)} (median), not in the times above.",
        f"- Keras's `categorical_crossentropy` clips probabilities to [1e-7, 1 - 1e-7]; "
        f"beyond the clip its gradient is zero. At the end of training "
        f"{percent(clipped_keras)} of Keras's training images (and {percent(clipped_fastnn)} "
        f"of fastnn's) have a true-class probability beyond 1 - 1e-7: "
        + ("those images no longer move Keras's weights, where fastnn's true gradient "
           "still pushes them (by less than 1e-7 each)." if clipped_keras > 0 else
           "the clip never took effect."),
        f"- Threads: {comparison.pinning}; process CPU time over wall time during "
        f"training {min(utilisation):.2f} - {max(utilisation):.2f} (at most 1 with one CPU; "
        "below 1 where other processes shared that CPU). Versions: "
        + ", ".join(f"{name} {version}" for name, version in comparison.versions.items())
        + ".",
    ]
    return "**Reading:**\n\n" + "\n".join(lines)


def _fastnn_epoch(name):
    if backends.get(name).runs_epochs:
        return f"fastnn's {name} backend runs a whole epoch in one compiled call."
    return f"fastnn's {name} backend takes one call per batch from a Python loop."


def _intro(results, command):
    settings = results.settings
    text = (f"`{command}` - {settings.label} run, {results.started}, "
            f"{results.elapsed:.0f} s. The tutorials (docs/guide/reproduce.rst): "
            "A, looped vs vectorised feed-forward and digits; B, softmax on three "
            "Gaussian clouds; C, a NeuralNetwork/Trainer class on digits. Everything below "
            "was measured in this one run.")
    if not settings.is_full:
        text += ("\n\n**This is a reduced run** (`--quick` or test settings): fewer epochs, "
                 "seeds and timing rounds than the tutorials; accuracies are not comparable "
                 "with the tutorials'. Run `fastnn reproduce` for the real figures.")
    for name in backends.backends_where(compiles=True):
        if name not in results.backends:
            text += (f"\n\nThe {name} backend was not available in this run; its columns "
                     f"are missing.")
    return text


def _run_details(results, command):
    machine = MachineRecord.from_dict(results.machine)
    settings = results.settings
    compile_lines = [
        f"- {name} first call (compile or cache load, not in the timings): "
        + (", ".join(f"{network}: {seconds(value)}" for network, value in per_network.items())
           or "-")
        for name, per_network in results.compile_seconds.items()]
    lines = [
        f"- command: `{command}`; settings: {settings.label}; seeds: "
        f"{', '.join(str(seed) for seed in settings.seeds)}",
        f"- started {results.started}; took {results.elapsed:.0f} s",
        f"- machine: {machine.cpu_model}, {machine.logical_cores} cores, {machine.platform}; "
        f"load average at start {machine.load_average}, at end "
        f"{results.load_average_end} (the cores are shared with other work: "
        "medians and IQRs, interleaved rounds)",
        f"- Python {machine.python}, NumPy {machine.numpy}, "
        f"Numba {machine.numba or 'not installed'}, "
        f"fastnn {machine.fastnn} (git {revision_text(results.revision, 7) or 'unknown'})",
        f"- threads: BLAS pools pinned to {results.threads.get('blas_threads')} "
        f"(threadpoolctl: {'; '.join(results.threads.get('blas_libraries', [])) or '-'}), "
        f"Numba threads {results.threads.get('numba_threads')}",
        f"- backends: {', '.join(results.backends)}",
        *compile_lines,
        "- plots: " + ", ".join(f"`{name}` ({text})" for name, text in PLOTS.items()),
        "- raw numbers: `results.json`",
    ]
    return "\n".join(lines)
