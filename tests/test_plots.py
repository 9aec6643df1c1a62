import itertools

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.text import Text

from hintforce import plots, study
from hintforce.similarity import pca_scores, stack_conditions

#: The validations of a run whose task holds no direction out.
TRAINING_VALIDATIONS = tuple(v for v in study.VALIDATIONS if v != study.HELD_OUT_DIRECTIONS)

N_CONDITIONS, N_TIMES = 4, 20
CIRCUIT, SEED = study.GROUND_TRUTH_SEED, study.SEED
FRACTION, GAIN = study.NEURON_FRACTION, study.HINT_GAIN
# The swept values of the synthetic summary; the other axes have one value each.
SWEEP = {CIRCUIT: (2021, 2020), FRACTION: (0.5, 0.1, 0.3), GAIN: (1.0, 0.1, 0.3)}
FIXED = {study.MUSCLE_FRACTION: 0.4, study.N_UNITS: 50}
POPULATIONS = ("observed", "unobserved", study.HELD_OUT)
K = 5


def _data_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.has_data()]


def _smooth(rng, shape):
    """Smooth random traces along axis 1 (time)."""
    return rng.standard_normal(shape).cumsum(axis=1) / np.sqrt(shape[1])


def _gid(ax, gid):
    lines = [ln for ln in ax.get_lines() if ln.get_gid() == gid]
    assert len(lines) == 1, gid
    return lines[0]


def _colours(lines):
    return [to_rgba(ln.get_color()) for ln in lines]


def _error_bars(ax):
    """Per error-bar container: its (low, high) ends along x and along y (None without)."""
    ends = []
    for container in ax.containers:
        if isinstance(container, ErrorbarContainer):
            bars = [np.array(c.get_segments()) for c in container.lines[2]]
            xs = bars.pop(0)[:, :, 0] if container.has_xerr else None
            ys = bars.pop(0)[:, :, 1] if container.has_yerr else None
            ends.append((xs, ys))
    return ends


# ---------------------------------------------------------------------------------------------
# Synthetic inputs


@pytest.fixture(scope="module")
def ground_truth():
    rng = np.random.default_rng(1)
    n_muscles, n_neurons = 6, 30
    time_ms = np.arange(N_TIMES) * 10.0
    emg = 0.1 + np.abs(_smooth(rng, (N_CONDITIONS, N_TIMES, n_muscles)))
    emg_fit = emg + 0.01 * rng.standard_normal(emg.shape)
    r2 = 1 - ((emg - emg_fit) ** 2).sum((0, 1)) / ((emg - emg.mean((0, 1))) ** 2).sum((0, 1))
    rates = 20 + 10 * _smooth(rng, (N_CONDITIONS, N_TIMES, n_neurons)) * rng.uniform(
        0.2, 3.0, n_neurons
    )
    trace = 0.1 + 10 * np.exp(-np.arange(51) / 10)
    return dict(
        emg=emg,
        emg_fit=emg_fit,
        r2=r2,
        rates=rates,
        time_ms=time_ms,
        abscissa_trace=trace,
        target_abscissa=0.15,
    )


@pytest.fixture(scope="module")
def ground_truth_fig(ground_truth):
    return plots.ground_truth_figure(**ground_truth, n_example_neurons=3, title="gt~2020")


def _summary(seed=4, circuits=SWEEP[CIRCUIT]):
    """A summary.csv-like table: per-circuit rows (over seeds) for every circuit and, with
    several circuits, cross-circuit rows (``ground_truth_seed`` empty), for the similarity
    (quantities value and null_mean) and the fit (metric r2, clean and noisy starts)."""
    rng = np.random.default_rng(seed)
    rows = []
    cells = [(c, SEED, 5) for c in circuits]
    if len(circuits) > 1:
        cells.append((np.nan, CIRCUIT, len(circuits)))
    names = (*study.MODEL_NAMES, *study.REFERENCES)
    for (circuit, over, n), nf, hg in itertools.product(cells, SWEEP[FRACTION], SWEEP[GAIN]):
        cell = {CIRCUIT: circuit, **FIXED, FRACTION: nf, GAIN: hg, "n_over": over, "n": n}
        keys = itertools.product(
            names, POPULATIONS, ("cca", "cka"), (K, 10), study.COMPONENTS, TRAINING_VALIDATIONS
        )
        for model, population, metric, k, component, validation in keys:
            for quantity in ("value", "null_mean"):
                if model in study.REFERENCES and quantity == "null_mean":
                    continue
                mean = rng.uniform(0.1, 0.9)
                half = rng.uniform(0.01, 0.1)
                rows.append(
                    {
                        **cell,
                        "model": model,
                        "population": population,
                        "metric": metric,
                        "k": k,
                        "component": component,
                        "validation": validation,
                        "start": np.nan,
                        "quantity": quantity,
                        "mean": mean,
                        "ci_low": mean - half,
                        "ci_high": mean + half,
                    }
                )
        for model, start in itertools.product(study.MODEL_NAMES, study.STARTS):
            mean, half = rng.uniform(0.5, 1.0), rng.uniform(0.01, 0.05)
            rows.append(
                {
                    **cell,
                    "model": model,
                    "metric": "r2",
                    "start": start,
                    "quantity": "value",
                    "mean": mean,
                    "ci_low": mean - half,
                    "ci_high": mean + half,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def summary():
    return _summary()


def _fit_table(seed=5):
    rng = np.random.default_rng(seed)
    rows = [
        {CIRCUIT: c, **FIXED, SEED: s, FRACTION: nf, GAIN: hg, "model": m, "start": st}
        for c, s, nf, hg, m, st in itertools.product(
            SWEEP[CIRCUIT], range(3), SWEEP[FRACTION], SWEEP[GAIN], study.MODEL_NAMES, study.STARTS
        )
    ]
    table = pd.DataFrame(rows)
    return table.assign(r2=rng.uniform(0.3, 1.0, len(table)), passes_fit_gate=True)


def _rows(table, **conditions):
    mask = np.ones(len(table), dtype=bool)
    for column, value in conditions.items():
        mask &= table[column].isna() if pd.isna(value) else table[column] == value
    return table[mask]


def _first_cell(**conditions):
    """The cell the figures draw: pooled over circuits, the other axes at their first value."""
    cell = {CIRCUIT: np.nan, **FIXED, FRACTION: 0.1, GAIN: 0.1}
    return {name: value for name, value in cell.items() if name not in conditions} | conditions


@pytest.fixture(scope="module")
def spectra():
    rng = np.random.default_rng(3)
    rows = []
    for circuit, seed, nf in itertools.product((2020, 2021), range(3), (0.5, 0.3)):
        run = {CIRCUIT: circuit, **FIXED, SEED: seed, FRACTION: nf, GAIN: 0.3}
        for model, population, k, component in itertools.product(
            (*study.MODEL_NAMES, *study.REFERENCES), POPULATIONS, (3, 6), study.COMPONENTS
        ):
            rho = np.sort(rng.uniform(0, 1, k))[::-1]
            for i, v in enumerate(rho):
                rows.append(
                    {
                        **run,
                        "model": model,
                        "population": population,
                        "k": k,
                        "component": component,
                        "index": i,
                        "value": v,
                    }
                )
    return pd.DataFrame(rows)


def _linear_copy_of_soc(seed, n_latents):
    """SOC rates with exactly ``n_latents`` latent dimensions and a model that is a random
    linear transform (plus offset) of them."""
    rng = np.random.default_rng(seed)
    latents = _smooth(rng, (N_CONDITIONS, N_TIMES, n_latents))
    soc = 20 + latents @ rng.standard_normal((n_latents, 25)) * 5
    model = soc @ rng.standard_normal((25, 40)) + rng.standard_normal(40)
    return soc, model


def _outputs(targets, rng):
    return {m: targets + 0.05 * rng.standard_normal(targets.shape) for m in study.MODEL_NAMES}


# ---------------------------------------------------------------------------------------------
# Every figure


@pytest.fixture(scope="module")
def headline_fig(summary):
    return plots.headline_figure(summary, K)


def test_every_figure_saves_to_a_non_empty_png_with_titles_and_labels(
    tmp_path, ground_truth, ground_truth_fig, summary, spectra, headline_fig
):
    rng = np.random.default_rng(5)
    targets = ground_truth["emg"][:, :, [0, 3]]
    soc, model = _linear_copy_of_soc(6, 3)
    run = "gt~2020 mf~0.4 seed~1 n~50 nf~0.3 hg~0.3"
    figures = {
        "ground_truth": ground_truth_fig,
        "model_outputs": plots.model_outputs_figure(
            targets,
            _outputs(targets, rng),
            dict.fromkeys(study.MODEL_NAMES, 0.9),
            ground_truth["time_ms"],
            [0, 3],
            title=run,
        ),
        "trajectories": plots.trajectories_figure(
            soc, {m: model + rng.standard_normal(model.shape) for m in study.MODEL_NAMES}, 3
        ),
        "cca_spectra": plots.cca_spectra_figure(spectra),
        "headline": headline_fig,
        "axis": plots.axis_figure(summary, FRACTION, K, populations=("unobserved", study.HELD_OUT)),
        "tradeoff": plots.tradeoff_figure(summary, GAIN, K),
    }
    for name, fig in figures.items():
        assert isinstance(fig, Figure), name
        assert fig.get_suptitle(), name
        for ax in _data_axes(fig):
            assert ax.get_title(), f"{name}: an axes without title"
        assert any(ax.get_xlabel() for ax in _data_axes(fig)), name
        assert any(ax.get_ylabel() for ax in _data_axes(fig)), name
        path = tmp_path / f"{name}.png"
        fig.savefig(path, dpi=40)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert path.stat().st_size > 1000, name


def test_colours_and_labels_come_from_the_registry():
    names = (*study.MODEL_NAMES, *study.REFERENCES)
    colours = [to_rgba(plots.model_color(n)) for n in names]
    assert len(set(colours)) == len(names)
    assert all(plots.MODEL_LABELS[m.name] == m.label for m in study.MODELS)
    styles = [plots.REFERENCE_STYLES[n]["linestyle"] for n in study.REFERENCES]
    assert len(set(styles)) == len(styles)


def test_describe_run_reads_like_the_run_path():
    values = {CIRCUIT: 2020, **FIXED, SEED: 1, FRACTION: 0.3, GAIN: 0.3, "model": "x"}
    assert plots.describe_run(values) == "gt~2020 mf~0.4 seed~1 n~50 nf~0.3 hg~0.3"
    assert plots.describe_run({CIRCUIT: np.nan, GAIN: 1}) == "gt~all hg~1.0"


# ---------------------------------------------------------------------------------------------
# Ground truth


def test_ground_truth_figure_has_one_panel_per_muscle_example_neuron_pcs_and_abscissa(
    ground_truth, ground_truth_fig
):
    fig = ground_truth_fig
    n_muscles = ground_truth["emg"].shape[2]
    assert len(_data_axes(fig)) == n_muscles + 3 + 2
    muscle_axes = [ax for ax in fig.axes if ax.get_title().startswith("muscle")]
    assert len(muscle_axes) == n_muscles
    for m, ax in enumerate(muscle_axes):
        assert f"{ground_truth['r2'][m]:.3f}" in ax.get_title()
    # Six muscles: a balanced 2 x 3 grid, not 5 + 1.
    assert [ax.get_subplotspec().get_geometry()[:2] for ax in muscle_axes] == [(2, 3)] * 6
    assert "gt~2020" in fig.get_suptitle()


def test_ground_truth_example_neurons_are_the_highest_variance_ones(ground_truth, ground_truth_fig):
    rates = ground_truth["rates"]
    shown = [ax.get_title() for ax in ground_truth_fig.axes if ax.get_title().startswith("neuron")]
    variance = np.array([rates[:, :, i].var() for i in range(rates.shape[2])])
    expected = np.argsort(variance)[::-1][:3]
    assert shown == [f"neuron {i + 1}" for i in expected]


def test_ground_truth_readout_lines_hold_the_fit_and_targets_are_dashed(
    ground_truth, ground_truth_fig
):
    ax = next(a for a in ground_truth_fig.axes if a.get_title().startswith("muscle 2,"))
    solid = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(solid) == len(dashed) == N_CONDITIONS
    np.testing.assert_array_equal([ln.get_ydata() for ln in solid], ground_truth["emg_fit"][..., 1])
    np.testing.assert_array_equal([ln.get_ydata() for ln in dashed], ground_truth["emg"][..., 1])


def test_ground_truth_pc_panel_shows_the_top_two_principal_components(
    ground_truth, ground_truth_fig
):
    ax = next(a for a in ground_truth_fig.axes if a.get_xlabel().startswith("PC 1"))
    curves = [line for line in ax.get_lines() if len(line.get_xdata()) > 1]
    plotted = np.concatenate([np.column_stack(line.get_data()) for line in curves])
    X = stack_conditions(ground_truth["rates"])
    U, S, _ = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    for j in range(2):
        expected = U[:, j] * S[j]
        sign = np.sign(expected @ plotted[:, j])
        np.testing.assert_allclose(plotted[:, j], sign * expected, atol=1e-8)


def test_ground_truth_abscissa_axis_is_log_or_linear_with_the_target_line(
    ground_truth, ground_truth_fig
):
    ax = next(a for a in ground_truth_fig.axes if "spectral abscissa" in a.get_ylabel())
    assert ax.get_yscale() == "log"
    levels = [line.get_ydata() for line in ax.get_lines()]
    assert any(np.all(np.asarray(y) == ground_truth["target_abscissa"]) for y in levels)
    args = dict(ground_truth, abscissa_trace=np.linspace(2.0, -0.5, 30), target_abscissa=-0.1)
    fig = plots.ground_truth_figure(**args)
    ax = next(a for a in fig.axes if "spectral abscissa" in a.get_ylabel())
    assert ax.get_yscale() == "linear"


@pytest.mark.parametrize(
    "name, cut",
    [
        ("emg_fit", lambda a: a[:, :-1]),
        ("r2", lambda a: a[:-1]),
        ("time_ms", lambda a: a[:-1]),
        ("rates", lambda a: a[:-1]),
    ],
)
def test_ground_truth_figure_rejects_mismatched_shapes(ground_truth, name, cut):
    args = dict(ground_truth, **{name: cut(ground_truth[name])})
    with pytest.raises(ValueError, match=f"{name} must have shape"):
        plots.ground_truth_figure(**args)


def test_per_condition_lines_are_in_the_condition_colours(ground_truth, ground_truth_fig):
    colours = [to_rgba(c) for c in plots.condition_colors(N_CONDITIONS)]
    neuron = next(a for a in ground_truth_fig.axes if a.get_title().startswith("neuron"))
    assert _colours(neuron.get_lines()) == colours
    muscle = next(a for a in ground_truth_fig.axes if a.get_title().startswith("muscle 1,"))
    # Condition by condition: target (dashed) then readout (solid).
    assert _colours(muscle.get_lines()) == [c for c in colours for _ in range(2)]
    assert [ln.get_linestyle() for ln in muscle.get_lines()] == ["--", "-"] * N_CONDITIONS
    pcs = next(a for a in ground_truth_fig.axes if a.get_xlabel().startswith("PC 1"))
    starts = [ln for ln in pcs.get_lines() if len(ln.get_xdata()) == 1]
    assert _colours(starts) == colours
    soc, model = _linear_copy_of_soc(12, 3)
    (ax,) = _data_axes(plots.trajectories_figure(soc, {study.FF: model}, 3))
    for c, colour in enumerate(colours):
        assert to_rgba(_gid(ax, f"soc/{study.FF}/{c}").get_color()) == colour
        assert to_rgba(_gid(ax, f"{study.FF}/{c}").get_color()) == colour


def test_unused_cells_of_a_panel_grid_are_removed(ground_truth):
    muscles = [0, 1, 2, 3, 4, 5, 0]  # seven muscles: a 2 x 4 grid, one cell unused
    args = {name: ground_truth[name][..., muscles] for name in ("emg", "emg_fit", "r2")}
    fig = plots.ground_truth_figure(**dict(ground_truth, **args), n_example_neurons=3)
    muscle_axes = [ax for ax in fig.axes if ax.get_title().startswith("muscle")]
    assert len(muscle_axes) == 7 and len(fig.axes) == 7 + 3 + 2
    # The panel above the unused cell carries the time axis, its left neighbour does not.
    assert [ax.get_xlabel() for ax in muscle_axes[2:4]] == ["", "time (ms)"]
    soc, model = _linear_copy_of_soc(13, 3)
    fig = plots.trajectories_figure(soc, dict.fromkeys(study.MODEL_NAMES, model), 3)
    assert len(fig.axes) == len(study.MODEL_NAMES)


# ---------------------------------------------------------------------------------------------
# One run: model outputs and trajectories


def test_model_outputs_grid_is_models_in_registry_order_by_muscles(ground_truth):
    rng = np.random.default_rng(7)
    targets = ground_truth["emg"][:, :, [1, 2, 4]]
    given = dict(reversed(_outputs(targets, rng).items()))  # registry order is restored
    r2 = {m: 0.9 + i / 100 for i, m in enumerate(study.MODEL_NAMES)}
    fig = plots.model_outputs_figure(targets, given, r2, ground_truth["time_ms"], [1, 2, 4])
    grid = np.array(_data_axes(fig)).reshape(len(study.MODEL_NAMES), 3)
    for i, model in enumerate(study.MODELS):
        assert f"{r2[model.name]:.3f}" in grid[i, 0].get_ylabel()
        assert grid[i, 0].get_title().startswith(model.label)
        for j in range(3):
            solid = [ln.get_ydata() for ln in grid[i, j].get_lines() if ln.get_linestyle() == "-"]
            np.testing.assert_array_equal(np.array(solid), given[model.name][:, :, j])
    assert "muscle 5" in grid[-1, 2].get_title()


def test_model_outputs_title_names_the_run_and_clears_the_legend(ground_truth):
    targets = ground_truth["emg"][:, :, :2]
    outputs = _outputs(targets, np.random.default_rng(8))
    run = "gt~2020 mf~0.4 seed~1 n~50 nf~0.3 hg~0.3"
    fig = plots.model_outputs_figure(
        targets, outputs, dict.fromkeys(outputs, 0.9), ground_truth["time_ms"], [0, 1], title=run
    )
    assert run in fig.get_suptitle()
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    (suptitle,) = [
        a for a in fig.get_children() if isinstance(a, Text) and a.get_text().endswith(run)
    ]
    legend = fig.legends[0].get_window_extent(renderer)
    title = suptitle.get_window_extent(renderer)
    assert not legend.overlaps(title)
    assert all(legend.y1 <= ax.get_window_extent(renderer).y0 for ax in fig.axes)


def test_model_outputs_figure_rejects_missing_or_mismatched_outputs(ground_truth):
    targets = ground_truth["emg"][:, :, :2]
    args = (dict.fromkeys(study.MODEL_NAMES, 1.0), ground_truth["time_ms"], [0, 1])
    with pytest.raises(ValueError, match="at least one model"):
        plots.model_outputs_figure(targets, {}, *args)
    with pytest.raises(ValueError, match=rf"outputs\['{study.FF}'\] must have shape"):
        plots.model_outputs_figure(targets, {study.FF: targets[:, :-1]}, *args)


def test_model_outputs_figure_requires_an_r2_per_model(ground_truth):
    targets = ground_truth["emg"][:, :, :2]
    with pytest.raises(ValueError, match=study.FFH):
        plots.model_outputs_figure(
            targets,
            {study.FF: targets, study.FFH: targets},
            {study.FF: 1.0},
            ground_truth["time_ms"],
            [0, 1],
        )


def _curves(ax, prefix):
    lines = sorted(
        (ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith(prefix)),
        key=lambda ln: ln.get_gid(),
    )
    return np.array([np.column_stack(ln.get_data()) for ln in lines])


def test_trajectories_of_a_linear_copy_of_the_soc_coincide_in_aligned_space():
    k = 3
    soc, model = _linear_copy_of_soc(8, k)
    fig = plots.trajectories_figure(soc, {study.FF: model}, k, title="gt~1")
    (ax,) = _data_axes(fig)
    assert "gt~1" in fig.get_suptitle()
    soc_xy = _curves(ax, f"soc/{study.FF}/")
    model_xy = _curves(ax, f"{study.FF}/")
    assert soc_xy.shape == model_xy.shape == (N_CONDITIONS, N_TIMES, 2)
    for j in range(2):
        sign = np.sign(np.sum(soc_xy[..., j] * model_xy[..., j]))
        np.testing.assert_allclose(model_xy[..., j], sign * soc_xy[..., j], atol=1e-8)
    # The alignment is not trivial: the two populations' own top-2 PCs differ.
    soc_pcs = pca_scores(stack_conditions(soc), 2).scores
    model_pcs = pca_scores(stack_conditions(model), 2).scores
    soc_pcs /= np.linalg.norm(soc_pcs, axis=0)
    model_pcs /= np.linalg.norm(model_pcs, axis=0)
    assert np.max(np.abs(np.abs(soc_pcs.T @ model_pcs).diagonal() - 1)) > 1e-3


def test_trajectories_figure_has_one_panel_per_model_titled_with_mean_rho():
    soc, model = _linear_copy_of_soc(9, 3)
    noisy = model + _smooth(np.random.default_rng(10), model.shape) * model.std()
    fig = plots.trajectories_figure(soc, {study.FFH: model, study.FF: noisy}, 3)
    axes = _data_axes(fig)
    assert len(axes) == 2
    assert "vs FF " in axes[0].get_title() and "vs FFH " in axes[1].get_title()
    assert "mean ρ = 1.00" in axes[1].get_title()
    assert "mean ρ = 1.00" not in axes[0].get_title()


def test_trajectories_figure_rejects_mismatched_conditions():
    soc, model = _linear_copy_of_soc(11, 3)
    with pytest.raises(ValueError, match=study.FF):
        plots.trajectories_figure(soc, {study.FF: model[:-1]}, 3)


# ---------------------------------------------------------------------------------------------
# Spectra


def test_cca_spectra_draws_the_mean_and_range_over_seeds_of_the_first_cell(spectra):
    fig = plots.cca_spectra_figure(spectra, SEED)
    axes = _data_axes(fig)
    assert len(axes) == len(POPULATIONS)
    sub = _rows(spectra, k=6, component="full", **{CIRCUIT: 2020, FRACTION: 0.3})
    assert "gt~2020" in fig.get_suptitle() and "nf~0.3" in fig.get_suptitle()
    for ax, population in zip(axes, study.POPULATIONS[1:], strict=True):
        assert population.replace("_", "-") in ax.get_title()
        for name in (*study.MODEL_NAMES, *study.REFERENCES):
            runs = _rows(sub, model=name, population=population).pivot(
                index=SEED, columns="index", values="value"
            )
            line = _gid(ax, name)
            np.testing.assert_allclose(line.get_ydata(), runs.mean().to_numpy())
            np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 7))
            if name in study.MODEL_NAMES:
                _assert_band(ax, name, np.arange(1, 7), runs.min(), runs.max())


# ---------------------------------------------------------------------------------------------
# Headline


def test_headline_bars_and_null_markers_are_the_summary_means_of_the_pooled_cell(
    summary, headline_fig
):
    axes = _data_axes(headline_fig)
    assert len(axes) == len(study.COMPONENTS)
    assert (
        "gt~all" in headline_fig.get_suptitle() and "nf~0.1 hg~0.1" in headline_fig.get_suptitle()
    )
    cell = _rows(
        summary,
        population="unobserved",
        metric="cca",
        k=K,
        validation="cross_validated",
        **_first_cell(),
    )
    for ax, component in zip(axes, study.COMPONENTS, strict=True):
        assert component in ax.get_title()
        panel = _rows(cell, component=component)
        means = _rows(panel, quantity="value").set_index("model")["mean"]
        nulls = _rows(panel, quantity="null_mean").set_index("model")["mean"]
        assert [t.get_text() for t in ax.get_xticklabels()] == [m.label for m in study.MODELS]
        (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
        heights = [bar.get_height() for bar in bars.patches]
        np.testing.assert_allclose(heights, means[list(study.MODEL_NAMES)])
        np.testing.assert_allclose(_gid(ax, "null").get_ydata(), nulls[list(study.MODEL_NAMES)])
        for reference in (study.CEILING, study.BASELINE, study.RELIABILITY):
            assert _gid(ax, reference).get_ydata()[0] == pytest.approx(means[reference])


def test_headline_error_bars_span_the_summary_ci(summary, headline_fig):
    cell = _rows(
        summary,
        population="unobserved",
        metric="cca",
        k=K,
        validation="cross_validated",
        quantity="value",
        **_first_cell(),
    )
    for ax, component in zip(_data_axes(headline_fig), study.COMPONENTS, strict=True):
        rows = _rows(cell, component=component).set_index("model").loc[list(study.MODEL_NAMES)]
        ((xs, ys),) = _error_bars(ax)
        assert xs is None
        np.testing.assert_allclose(ys, rows[["ci_low", "ci_high"]].to_numpy())


def test_headline_ceiling_and_baseline_lines_differ_in_colour_and_style(headline_fig):
    ax = _data_axes(headline_fig)[0]
    ceiling, baseline = _gid(ax, study.CEILING), _gid(ax, study.BASELINE)
    assert to_rgba(ceiling.get_color()) != to_rgba(baseline.get_color())
    assert ceiling.get_linestyle() != baseline.get_linestyle()
    labels = [t.get_text() for t in headline_fig.legends[0].get_texts()]
    assert plots.MODEL_LABELS[study.CEILING] in labels
    assert plots.MODEL_LABELS[study.BASELINE] in labels


def test_headline_of_one_circuit_draws_its_first_cell():
    summary = _summary(seed=6, circuits=(2023,))
    fig = plots.headline_figure(summary, 10, metric="cka")
    assert "gt~2023" in fig.get_suptitle() and "n = 5 seed" in fig.get_suptitle()
    ax = _data_axes(fig)[0]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)][0]
    expected = _rows(
        summary,
        population="unobserved",
        metric="cka",
        k=10,
        validation="cross_validated",
        component="full",
        quantity="value",
        **_first_cell(**{CIRCUIT: 2023}),
    ).set_index("model")["mean"]
    np.testing.assert_allclose(
        [b.get_height() for b in bars.patches], expected[list(study.MODEL_NAMES)]
    )


def test_headline_tolerates_missing_optional_columns(summary):
    optional = ["quantity", "n", "n_over", "ci_low", "ci_high", "validation"]
    values = _rows(summary, quantity="value", validation="cross_validated", **{CIRCUIT: 2020})
    fig = plots.headline_figure(values.drop(columns=optional), K)
    assert not [ln for ln in _data_axes(fig)[0].get_lines() if ln.get_gid() == "null"]
    # Without the validation column, the two validations are two rows per bar: refused.
    with pytest.raises(ValueError, match="one summary row"):
        plots.headline_figure(summary.drop(columns="validation"), K)


def test_headline_requires_the_summary_columns(summary):
    with pytest.raises(ValueError, match="mean"):
        plots.headline_figure(summary.drop(columns="mean"), K)
    with pytest.raises(ValueError, match="k = 7"):
        plots.headline_figure(summary, 7)


# ---------------------------------------------------------------------------------------------
# Similarity against a swept axis


def _assert_band(ax, gid, x, low, high):
    (band,) = [c for c in ax.collections if c.get_gid() == f"{gid}/band"]
    vertices = np.concatenate([p.vertices for p in band.get_paths()])
    for xi, lo, hi in zip(x, low, high, strict=True):
        ys = vertices[np.isclose(vertices[:, 0], xi), 1]
        np.testing.assert_allclose([ys.min(), ys.max()], [lo, hi])


@pytest.mark.parametrize("axis_name", [FRACTION, GAIN])
def test_axis_figure_draws_one_line_per_model_with_its_ci_band(summary, axis_name):
    fig = plots.axis_figure(summary, axis_name, K, populations=("unobserved", study.HELD_OUT))
    axes = np.array(_data_axes(fig)).reshape(2, len(study.COMPONENTS))
    values = sorted(SWEEP[axis_name])
    assert "gt~all" in fig.get_suptitle()
    assert f"{study.axis(axis_name).key}~" not in fig.get_suptitle()
    rows = _rows(summary, metric="cca", k=K, validation="cross_validated", quantity="value")
    cell = _first_cell(**{axis_name: np.nan})
    cell.pop(axis_name)
    rows = _rows(rows, **cell)
    for i, population in enumerate(("unobserved", study.HELD_OUT)):
        for j, component in enumerate(study.COMPONENTS):
            ax = axes[i, j]
            panel = _rows(rows, population=population, component=component)
            for name in (*study.MODEL_NAMES, *study.REFERENCES):
                curve = _rows(panel, model=name).sort_values(axis_name)
                line = _gid(ax, name)
                np.testing.assert_array_equal(line.get_xdata(), values)
                np.testing.assert_allclose(line.get_ydata(), curve["mean"])
                if name in study.MODEL_NAMES:
                    _assert_band(ax, name, values, curve["ci_low"], curve["ci_high"])


def test_axis_figure_across_circuits_uses_the_per_circuit_rows(summary):
    fig = plots.axis_figure(summary, CIRCUIT, K)
    ax = _data_axes(fig)[0]
    np.testing.assert_array_equal(_gid(ax, study.FFH).get_xdata(), sorted(SWEEP[CIRCUIT]))
    assert "n = 5 seed" in fig.get_suptitle()


def test_axis_figure_rejects_an_unknown_axis(summary):
    with pytest.raises(ValueError, match="unknown axis"):
        plots.axis_figure(summary, "temperature", K)


# ---------------------------------------------------------------------------------------------
# Trade-off


def _tradeoff_rows(summary):
    """The trade-off figure's similarity and noisy-start R² rows of its cell, over the gains."""
    cell = _first_cell()
    cell.pop(GAIN)
    sim = _rows(
        summary,
        population="unobserved",
        metric="cca",
        k=K,
        component="condition",
        validation="cross_validated",
        quantity="value",
        **cell,
    )
    return sim, _rows(summary, metric="r2", start="noisy", **cell)


def test_tradeoff_has_one_point_per_hint_gain_at_the_summary_r2(summary):
    fig = plots.tradeoff_figure(summary, GAIN, K)
    (ax,) = _data_axes(fig)
    sim, r2 = _tradeoff_rows(summary)
    gains = sorted(SWEEP[GAIN])
    for model in study.MODELS:
        line = _gid(ax, model.name)
        y = _rows(sim, model=model.name).sort_values(GAIN)["mean"].to_numpy()
        x = _rows(r2, model=model.name).sort_values(GAIN)["mean"].to_numpy()
        if model.hinted:
            np.testing.assert_allclose(line.get_xdata(), x)
            np.testing.assert_allclose(line.get_ydata(), y)
        else:  # one point, at the first gain
            np.testing.assert_allclose(line.get_xdata(), x[:1])
            np.testing.assert_allclose(line.get_ydata(), y[:1])
    labels = {t.get_text() for t in ax.texts}
    assert labels == {f"hg {g}" for g in gains}
    assert len(ax.texts) == len(gains) * len(study.hinted_models())


def test_tradeoff_error_bars_span_the_ci_of_the_r2_and_of_the_similarity(summary):
    fig = plots.tradeoff_figure(summary, GAIN, K)
    (ax,) = _data_axes(fig)
    sim, r2 = _tradeoff_rows(summary)
    bars = dict(zip(_models_drawn(ax), _error_bars(ax), strict=True))
    for name in study.hinted_models():
        xs, ys = bars[name]
        expected_x = _rows(r2, model=name).sort_values(GAIN)[["ci_low", "ci_high"]]
        expected_y = _rows(sim, model=name).sort_values(GAIN)[["ci_low", "ci_high"]]
        np.testing.assert_allclose(xs, expected_x.to_numpy())
        np.testing.assert_allclose(ys, expected_y.to_numpy())


def _models_drawn(ax):
    """The models of the trade-off's lines, in drawing order."""
    return [ln.get_gid() for ln in ax.get_lines() if ln.get_gid() in study.MODEL_NAMES]


def test_tradeoff_with_the_fit_table_takes_its_mean_over_runs(summary):
    fit = _fit_table()
    fig = plots.tradeoff_figure(summary, GAIN, K, fit=fit)
    (ax,) = _data_axes(fig)
    runs = _rows(fit, start="noisy", **FIXED, **{FRACTION: 0.1})
    for name in study.hinted_models():
        expected = _rows(runs, model=name).groupby(GAIN)["r2"].mean()
        np.testing.assert_allclose(_gid(ax, name).get_xdata(), expected.to_numpy())


# ---------------------------------------------------------------------------------------------
# Generalisation to held-out reach directions

HOD = study.HELD_OUT_DIRECTIONS


def _held_out_summary(seed=8):
    """:func:`_summary` of a study holding directions out: every cross-validated similarity
    row and every fit row (validation empty) has a held-out-directions twin with its own
    mean and interval."""
    rng = np.random.default_rng(seed)
    summary = _summary()
    twins = summary[
        (summary["validation"] == "cross_validated") | (summary["metric"] == "r2")
    ].copy()
    twins["validation"] = HOD
    twins["mean"] = rng.uniform(0.05, 0.6, len(twins))
    half = rng.uniform(0.01, 0.05, len(twins))
    twins["ci_low"], twins["ci_high"] = twins["mean"] - half, twins["mean"] + half
    return pd.concat([summary, twins], ignore_index=True)


@pytest.fixture(scope="module")
def held_out_summary():
    return _held_out_summary()


@pytest.fixture(scope="module")
def generalisation_fig(held_out_summary):
    return plots.generalisation_figure(held_out_summary, K)


def _group_bars(ax, gid):
    """The bars of one group (its ``gid``), left to right."""
    bars = [p for c in ax.containers if isinstance(c, BarContainer) for p in c.patches]
    return sorted((b for b in bars if b.get_gid() == gid), key=lambda b: b.get_x())


def test_generalisation_figure_has_a_fit_panel_per_start_and_a_similarity_panel(
    tmp_path, generalisation_fig
):
    fig = generalisation_fig
    assert isinstance(fig, Figure)
    axes = _data_axes(fig)
    assert len(axes) == len(fig.axes) == 3
    assert [ax.get_title() for ax in axes[:2]] == [f"output R², {s} start" for s in study.STARTS]
    assert "unobserved" in axes[2].get_title()
    assert "Generalisation" in fig.get_suptitle() and "gt~all" in fig.get_suptitle()
    assert "nf~0.1 hg~0.1" in fig.get_suptitle()
    labels = [m.label for m in study.MODELS]
    for ax in axes:
        assert [t.get_text() for t in ax.get_xticklabels()] == labels
        assert ax.get_ylabel()
        training = _group_bars(ax, "training directions")
        held = _group_bars(ax, "held-out directions")
        assert len(training) == len(held) == len(study.MODELS)
        assert all(b.get_hatch() == "//" for b in held)
        assert not any(b.get_hatch() for b in training)
        # side by side: each model's held-out bar right of its training bar, same colour
        for t, h in zip(training, held, strict=True):
            assert t.get_x() < h.get_x() and t.get_facecolor() == h.get_facecolor()
    fig.savefig(tmp_path / "generalisation.png", dpi=40)
    assert (tmp_path / "generalisation.png").stat().st_size > 1000


def test_generalisation_fit_bars_are_the_summary_r2_of_each_set_of_directions(
    held_out_summary, generalisation_fig
):
    axes = _data_axes(generalisation_fig)
    fit = _rows(held_out_summary, metric="r2", quantity="value", **_first_cell())
    for ax, start in zip(axes[:2], study.STARTS, strict=True):
        for gid, validation in (("training directions", np.nan), ("held-out directions", HOD)):
            rows = _rows(fit, start=start, validation=validation).set_index("model")
            rows = rows.loc[list(study.MODEL_NAMES)]
            heights = [b.get_height() for b in _group_bars(ax, gid)]
            np.testing.assert_allclose(heights, rows["mean"], err_msg=f"{start} {gid}")
        ends = [ys for _, ys in _error_bars(ax)]
        assert len(ends) == 2
        for ys, validation in zip(ends, (np.nan, HOD), strict=True):
            rows = _rows(fit, start=start, validation=validation).set_index("model")
            expected = rows.loc[list(study.MODEL_NAMES), ["ci_low", "ci_high"]].to_numpy()
            np.testing.assert_allclose(ys, expected)


def test_generalisation_similarity_bars_nulls_and_references_are_the_summary_rows(
    held_out_summary, generalisation_fig
):
    ax = _data_axes(generalisation_fig)[2]
    cell = _rows(
        held_out_summary,
        population="unobserved",
        metric="cca",
        k=K,
        component="condition",
        **_first_cell(),
    )
    models = list(study.MODEL_NAMES)
    nulls = sorted(
        (ln for ln in ax.get_lines() if ln.get_gid() == "null"), key=lambda ln: ln.get_xdata()[0]
    )
    assert len(nulls) == 2
    for gid, validation, null in zip(
        ("training directions", "held-out directions"), ("cross_validated", HOD), nulls, strict=True
    ):
        rows = _rows(cell, validation=validation)
        means = _rows(rows, quantity="value").set_index("model")["mean"]
        heights = [b.get_height() for b in _group_bars(ax, gid)]
        np.testing.assert_allclose(heights, means[models], err_msg=gid)
        null_means = _rows(rows, quantity="null_mean").set_index("model")["mean"]
        np.testing.assert_allclose(null.get_ydata(), null_means[models], err_msg=gid)
        centres = [b.get_x() + b.get_width() / 2 for b in _group_bars(ax, gid)]
        np.testing.assert_allclose(null.get_xdata(), centres)
    held = _rows(cell, validation=HOD, quantity="value").set_index("model")["mean"]
    for reference in study.REFERENCES:  # the references of the held-out directions
        assert _gid(ax, reference).get_ydata()[0] == pytest.approx(held[reference])
    legend = [t.get_text() for t in generalisation_fig.legends[0].get_texts()]
    assert "training directions" in legend and "held-out directions" in legend


def test_generalisation_figure_refuses_a_summary_without_held_out_rows(summary):
    with pytest.raises(ValueError, match="held"):
        plots.generalisation_figure(summary, K)


def test_generalisation_figure_refuses_a_summary_without_fit_rows(held_out_summary):
    with pytest.raises(ValueError, match="r2"):
        plots.generalisation_figure(held_out_summary[held_out_summary["metric"] != "r2"], K)


# ---------------------------------------------------------------------------------------------
# recording

TRIALS = (5, 50)


def _recording_tables(seed=9):
    """summary, paired_tests and co_smoothing_summary rows of a spike study at two trial
    counts (the figure's primary rows only)."""
    rng = np.random.default_rng(seed)
    cell = {CIRCUIT: 2020, **FIXED, FRACTION: 0.3, GAIN: 0.3, study.SMOOTHING_MS: 30.0}
    key = {"metric": "cca", "k": K, "component": "condition", "validation": "cross_validated"}
    summary, paired, co = [], [], []
    for n_trials in TRIALS:
        at = {**cell, study.N_TRIALS: n_trials, "n_over": SEED, "n": 5}
        for model in (*study.MODEL_NAMES, study.BASELINE):
            mean = rng.uniform(0.1, 0.5)
            summary.append(
                {**at, **key, "model": model, "population": "unobserved", "quantity": "value"}
                | {"mean": mean, "ci_low": mean - 0.05, "ci_high": mean + 0.05}
            )
        summary.append(
            {**at, **key, "model": study.TRIAL_SPLIT, "population": "observed"}
            | {"quantity": "value", "mean": n_trials / 100, "ci_low": 0.0, "ci_high": 1.0}
        )
        for a, b in study.CONTRASTS:
            paired.append(
                {**at, **key, "population": "unobserved", "contrast": f"{a}-{b}"}
                | {"mean_difference": rng.uniform(-0.1, 0.2), "holm_ttest_p": rng.uniform()}
            )
        for model in (*study.MODEL_NAMES, study.SMOOTHING_BASELINE):
            co.append({**cell, study.N_TRIALS: n_trials, "model": model, "mean": rng.uniform()})
    return pd.DataFrame(summary), pd.DataFrame(paired), pd.DataFrame(co)


def test_recording_figure_draws_the_tables_against_the_trials(tmp_path):
    summary, paired, co = _recording_tables()
    rng = np.random.default_rng(3)
    counts = rng.poisson(0.02, size=(8, 400))
    fig = plots.recording_figure(
        counts,
        rng.uniform(0, 40, (4, 40)),
        rng.uniform(0, 40, (4, 40)),
        7,
        10.0,
        summary,
        paired,
        co,
        K,
    )
    axes = _data_axes(fig)
    raster, _, similarity, contrasts, bps = axes
    assert "neuron 7" in raster.get_title()
    for a, b in study.CONTRASTS:
        line = _gid(contrasts, f"{a}-{b}")
        expected = paired[paired.contrast == f"{a}-{b}"].sort_values(study.N_TRIALS)
        np.testing.assert_array_equal(line.get_xdata(), TRIALS)
        np.testing.assert_allclose(line.get_ydata(), expected.mean_difference)
    ceiling = _gid(similarity, study.TRIAL_SPLIT)
    np.testing.assert_allclose(ceiling.get_ydata(), [n / 100 for n in TRIALS])
    for model in (study.FFH, study.SMOOTHING_BASELINE):
        line = _gid(bps, f"co_smoothing/{model}")
        np.testing.assert_allclose(line.get_ydata(), co[co.model == model]["mean"])
    assert fig.get_suptitle() and all(ax.get_title() for ax in axes)
    fig.savefig(tmp_path / "recording.png", dpi=30)
    assert (tmp_path / "recording.png").stat().st_size > 1000
