import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from hintforce import plots, stats
from hintforce.similarity import pca_scores, stack_conditions

N_CONDITIONS, N_TIMES = 4, 20
MODELS = ("floor", "ff", "ffh")
REFERENCES = ("soc_split", "soc_observed")
POPULATIONS = ("all", "observed", "unobserved")


def _data_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.has_data()]


def _titled(fig: Figure) -> list:
    return [ax for ax in _data_axes(fig) if ax.get_title()]


def _smooth(rng, shape):
    """Smooth random traces along axis 1 (time)."""
    return rng.standard_normal(shape).cumsum(axis=1) / np.sqrt(shape[1])


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


def _similarity_table(rng, fractions=(0.3,), seeds=(0, 1, 2), ks=(5, 10)):
    base = {"floor": 0.3, "ff": 0.4, "ffh": 0.6, "soc_split": 0.85, "soc_observed": 0.75}
    rows = []
    for nf in fractions:
        for seed in seeds:
            for model, b in base.items():
                for population in POPULATIONS:
                    if model == "soc_observed" and population != "unobserved":
                        continue
                    for k in ks:
                        for metric in ("cca", "cka", "procrustes"):
                            value = b + nf / 10 + 0.05 * rng.standard_normal()
                            rows.append((nf, 0.4, seed, model, population, metric, k, value))
    return pd.DataFrame(
        rows,
        columns=[
            "neuron_fraction",
            "muscle_fraction",
            "seed",
            "model",
            "population",
            "metric",
            "k",
            "value",
        ],
    )


@pytest.fixture(scope="module")
def ground_truth_fig(ground_truth):
    return plots.ground_truth_figure(**ground_truth, n_example_neurons=3)


@pytest.fixture(scope="module")
def similarity_table():
    return _similarity_table(np.random.default_rng(2), fractions=(0.5, 0.3))


@pytest.fixture(scope="module")
def spectra():
    rng = np.random.default_rng(3)
    rows = []
    for nf in (0.5, 0.3):
        for seed in range(3):
            for model in (*MODELS, *REFERENCES):
                for population in POPULATIONS:
                    if model == "soc_observed" and population != "unobserved":
                        continue
                    for k in (5, 10):
                        rho = np.sort(rng.uniform(0, 1, k))[::-1]
                        rows += [(nf, seed, model, population, k, i, v) for i, v in enumerate(rho)]
    return pd.DataFrame(
        rows, columns=["neuron_fraction", "seed", "model", "population", "k", "index", "value"]
    )


@pytest.fixture(scope="module")
def summary():
    table = _similarity_table(np.random.default_rng(4), fractions=(0.1, 0.3, 0.5))
    return stats.summarise(table, by=["model", "population", "metric", "k", "neuron_fraction"])


def _linear_copy_of_soc(seed, n_latents):
    """SOC rates with exactly ``n_latents`` latent dimensions and a model that is a random
    linear transform (plus offset) of them."""
    rng = np.random.default_rng(seed)
    latents = _smooth(rng, (N_CONDITIONS, N_TIMES, n_latents))
    soc = 20 + latents @ rng.standard_normal((n_latents, 25)) * 5
    model = soc @ rng.standard_normal((25, 40)) + rng.standard_normal(40)
    return soc, model


# ---------------------------------------------------------------------------------------------
# Every figure


def _all_figures(ground_truth, similarity_table, spectra, summary):
    rng = np.random.default_rng(5)
    targets = ground_truth["emg"][:, :, [0, 3]]
    outputs = {"ff": targets + 0.05, "ffh": targets - 0.02}
    soc, model = _linear_copy_of_soc(6, 3)
    other = model + 5 * _smooth(rng, model.shape)
    return {
        "ground_truth": plots.ground_truth_figure(**ground_truth),
        "model_outputs": plots.model_outputs_figure(
            targets, outputs, {"ff": 0.9, "ffh": 0.97}, ground_truth["time_ms"], [0, 3]
        ),
        "cca_spectra": plots.cca_spectra_figure(spectra),
        "cca_means": plots.cca_means_figure(similarity_table),
        "cca_vs_fraction": plots.cca_vs_fraction_figure(summary),
        "trajectories": plots.trajectories_figure(soc, {"ff": model, "ffh": other}, 3),
    }


def test_every_figure_saves_to_a_non_empty_png_with_titles_and_labels(
    tmp_path, ground_truth, similarity_table, spectra, summary
):
    figures = _all_figures(ground_truth, similarity_table, spectra, summary)
    for name, fig in figures.items():
        assert isinstance(fig, Figure), name
        assert _data_axes(fig), name
        for ax in _data_axes(fig):
            assert ax.get_title(), f"{name}: an axes without title"
        assert fig.get_suptitle() or all(ax.get_title() for ax in fig.axes), name
        assert any(ax.get_xlabel() for ax in _data_axes(fig)) or name == "cca_means", name
        assert any(ax.get_ylabel() for ax in _data_axes(fig)), name
        path = tmp_path / f"{name}.png"
        fig.savefig(path, dpi=40)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert path.stat().st_size > 1000, name


# ---------------------------------------------------------------------------------------------
# 1. Ground truth


def test_ground_truth_figure_has_one_panel_per_muscle_example_neuron_pcs_and_abscissa(
    ground_truth, ground_truth_fig
):
    fig = ground_truth_fig
    n_muscles = ground_truth["emg"].shape[2]
    assert len(_data_axes(fig)) == n_muscles + 3 + 2
    muscle_titles = [ax.get_title() for ax in fig.axes if ax.get_title().startswith("muscle")]
    assert len(muscle_titles) == n_muscles
    for m, title in enumerate(muscle_titles):
        assert f"{ground_truth['r2'][m]:.3f}" in title


def test_ground_truth_example_neurons_are_the_highest_variance_ones(ground_truth, ground_truth_fig):
    rates = ground_truth["rates"]
    fig = ground_truth_fig
    shown = [ax.get_title() for ax in fig.axes if ax.get_title().startswith("neuron")]
    variance = np.array([rates[:, :, i].var() for i in range(rates.shape[2])])
    expected = np.argsort(variance)[::-1][:3]
    assert shown == [f"neuron {i + 1}" for i in expected]


def test_ground_truth_readout_lines_hold_the_fit_and_targets_are_dashed(
    ground_truth, ground_truth_fig
):
    fig = ground_truth_fig
    ax = next(a for a in fig.axes if a.get_title().startswith("muscle 2,"))
    solid = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(solid) == len(dashed) == N_CONDITIONS
    fitted = np.array([line.get_ydata() for line in solid])
    target = np.array([line.get_ydata() for line in dashed])
    np.testing.assert_array_equal(fitted, ground_truth["emg_fit"][:, :, 1])
    np.testing.assert_array_equal(target, ground_truth["emg"][:, :, 1])


def test_ground_truth_pc_panel_shows_the_top_two_principal_components(
    ground_truth, ground_truth_fig
):
    rates = ground_truth["rates"]
    fig = ground_truth_fig
    ax = next(a for a in fig.axes if a.get_xlabel().startswith("PC 1"))
    curves = [line for line in ax.get_lines() if len(line.get_xdata()) > 1]
    plotted = np.concatenate([np.column_stack(line.get_data()) for line in curves])
    X = stack_conditions(rates)
    Xc = X - X.mean(axis=0)
    U, S, _ = np.linalg.svd(Xc, full_matrices=False)
    for j in range(2):
        expected = U[:, j] * S[j]
        sign = np.sign(expected @ plotted[:, j])
        np.testing.assert_allclose(plotted[:, j], sign * expected, atol=1e-8)


def test_ground_truth_abscissa_is_on_a_log_axis_with_the_target_line(
    ground_truth, ground_truth_fig
):
    fig = ground_truth_fig
    ax = next(a for a in fig.axes if "spectral abscissa" in a.get_ylabel())
    assert ax.get_yscale() == "log"
    levels = [line.get_ydata() for line in ax.get_lines()]
    assert any(np.all(np.asarray(y) == ground_truth["target_abscissa"]) for y in levels)


def test_ground_truth_abscissa_axis_is_linear_when_the_trace_crosses_zero(ground_truth):
    args = dict(ground_truth, abscissa_trace=np.linspace(2.0, -0.5, 30), target_abscissa=-0.1)
    fig = plots.ground_truth_figure(**args)
    ax = next(a for a in fig.axes if "spectral abscissa" in a.get_ylabel())
    assert ax.get_yscale() == "linear"


def test_ground_truth_figure_rejects_mismatched_fit(ground_truth):
    args = dict(ground_truth, emg_fit=ground_truth["emg_fit"][:, :-1])
    with pytest.raises(ValueError, match="emg_fit"):
        plots.ground_truth_figure(**args)


# ---------------------------------------------------------------------------------------------
# 2. Model outputs


def test_model_outputs_grid_is_models_by_muscles_with_outputs_solid(ground_truth):
    rng = np.random.default_rng(7)
    targets = ground_truth["emg"][:, :, [1, 2, 4]]
    outputs = {
        "ff": targets + 0.1 * rng.standard_normal(targets.shape),
        "ffh": targets + 0.01 * rng.standard_normal(targets.shape),
    }
    fig = plots.model_outputs_figure(
        targets, outputs, {"ff": 0.91, "ffh": 0.995}, ground_truth["time_ms"], [1, 2, 4]
    )
    axes = _data_axes(fig)
    assert len(axes) == 2 * 3
    grid = np.array(axes).reshape(2, 3)
    assert "0.910" in grid[0, 0].get_ylabel() and "0.995" in grid[1, 0].get_ylabel()
    assert "muscle 5" in grid[1, 2].get_title()
    for i, name in enumerate(("ff", "ffh")):
        for j in range(3):
            solid = [ln.get_ydata() for ln in grid[i, j].get_lines() if ln.get_linestyle() == "-"]
            np.testing.assert_array_equal(np.array(solid), outputs[name][:, :, j])


def test_model_outputs_figure_requires_an_r2_per_model(ground_truth):
    targets = ground_truth["emg"][:, :, :2]
    with pytest.raises(ValueError, match="ffh"):
        plots.model_outputs_figure(
            targets, {"ff": targets, "ffh": targets}, {"ff": 1.0}, ground_truth["time_ms"], [0, 1]
        )


# ---------------------------------------------------------------------------------------------
# 3. CCA spectra


def test_cca_spectra_draws_seed_means_of_the_largest_k_and_smallest_fraction(spectra):
    fig = plots.cca_spectra_figure(spectra)
    axes = _data_axes(fig)
    assert len(axes) == 3
    sub = spectra[(spectra["k"] == 10) & (spectra["neuron_fraction"] == 0.3)]
    for ax, population in zip(axes, POPULATIONS, strict=True):
        assert population in ax.get_title()
        expected = (
            sub[(sub["population"] == population) & (sub["model"] == "ffh")]
            .groupby("index")["value"]
            .mean()
            .to_numpy()
        )
        colour = matplotlib.colors.to_hex(plots.MODEL_COLORS["ffh"])
        lines = [ln for ln in ax.get_lines() if matplotlib.colors.to_hex(ln.get_color()) == colour]
        assert len(lines) == 1
        np.testing.assert_allclose(lines[0].get_ydata(), expected)
        np.testing.assert_array_equal(lines[0].get_xdata(), np.arange(1, 11))
        dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        assert len(dashed) == (2 if population == "unobserved" else 1)


# ---------------------------------------------------------------------------------------------
# 4. Mean CCA per model


def test_cca_means_bars_are_seed_means_of_the_first_fraction(similarity_table):
    fig = plots.cca_means_figure(similarity_table)
    axes = np.array(_data_axes(fig)).reshape(2, 3)
    sub = similarity_table[
        (similarity_table["metric"] == "cca") & (similarity_table["neuron_fraction"] == 0.3)
    ]
    for i, k in enumerate((5, 10)):
        for j, population in enumerate(POPULATIONS):
            ax = axes[i, j]
            assert population in ax.get_title() and f"k = {k}" in ax.get_title()
            ticks = [t.get_text() for t in ax.get_xticklabels()]
            assert ticks == [plots.MODEL_LABELS[m] for m in MODELS]
            cell = sub[(sub["k"] == k) & (sub["population"] == population)]
            means = cell.groupby("model")["value"].mean()
            bars = [c for c in ax.containers if isinstance(c, BarContainer)]
            heights = [bar.patches[0].get_height() for bar in bars]
            np.testing.assert_allclose(heights, [means[m] for m in MODELS])
            levels = sorted(
                float(ln.get_ydata()[0]) for ln in ax.get_lines() if ln.get_linestyle() == "--"
            )
            refs = [m for m in REFERENCES if m in set(cell["model"])]
            assert levels == pytest.approx(sorted(means[m] for m in refs))


def test_cca_means_connects_ff_and_ffh_of_each_seed_and_counts_wins(similarity_table):
    fig = plots.cca_means_figure(similarity_table)
    ax = _data_axes(fig)[2]  # unobserved, k = 5
    cell = similarity_table[
        (similarity_table["metric"] == "cca")
        & (similarity_table["neuron_fraction"] == 0.3)
        & (similarity_table["k"] == 5)
        & (similarity_table["population"] == "unobserved")
    ]
    ff = cell[cell["model"] == "ff"].set_index("seed")["value"]
    ffh = cell[cell["model"] == "ffh"].set_index("seed")["value"]
    pairs = sorted(
        tuple(ln.get_ydata())
        for ln in ax.get_lines()
        if len(ln.get_ydata()) == 2 and ln.get_linestyle() == "-"
    )
    assert pairs == sorted((ff[s], ffh[s]) for s in ff.index)
    wins = int((ffh > ff).sum())
    assert any(t.get_text() == f"FFH > FF in {wins}/{len(ff)} seeds" for t in ax.texts)


def test_cca_means_figure_requires_the_similarity_columns(similarity_table):
    with pytest.raises(ValueError, match="seed"):
        plots.cca_means_figure(similarity_table.drop(columns="seed"))


# ---------------------------------------------------------------------------------------------
# 5. Mean CCA vs fraction


def test_cca_vs_fraction_puts_unobserved_first_and_plots_means_of_the_largest_k(summary):
    fig = plots.cca_vs_fraction_figure(summary)
    axes = _data_axes(fig)
    assert len(axes) == 3
    assert "unobserved" in axes[0].get_title()
    expected = (
        summary[
            (summary["model"] == "ffh")
            & (summary["population"] == "unobserved")
            & (summary["metric"] == "cca")
            & (summary["k"] == 10)
        ]
        .sort_values("neuron_fraction")["mean"]
        .to_numpy()
    )
    colour = matplotlib.colors.to_hex(plots.MODEL_COLORS["ffh"])
    lines = [
        ln
        for ln in axes[0].get_lines()
        if matplotlib.colors.to_hex(ln.get_color()) == colour
        and len(ln.get_ydata()) == 3
        and ln.get_linestyle() == "-"
    ]
    assert len(lines) == 1
    np.testing.assert_allclose(lines[0].get_ydata(), expected)


# ---------------------------------------------------------------------------------------------
# 6. Trajectories


def _curves(ax, prefix):
    lines = sorted(
        (ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith(prefix)),
        key=lambda ln: ln.get_gid(),
    )
    return np.array([np.column_stack(ln.get_data()) for ln in lines])


def test_trajectories_of_a_linear_copy_of_the_soc_coincide_in_aligned_space():
    k = 3
    soc, model = _linear_copy_of_soc(8, k)
    fig = plots.trajectories_figure(soc, {"ff": model}, k)
    (ax,) = _data_axes(fig)
    soc_xy = _curves(ax, "soc/ff/")
    model_xy = _curves(ax, "ff/")
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
    fig = plots.trajectories_figure(soc, {"ff": noisy, "ffh": model}, 3)
    axes = _data_axes(fig)
    assert len(axes) == 2
    assert "FF" in axes[0].get_title() and "FFH" in axes[1].get_title()
    assert "mean ρ = 1.00" in axes[1].get_title()
    assert "mean ρ = 1.00" not in axes[0].get_title()


def test_trajectories_figure_rejects_mismatched_conditions():
    soc, model = _linear_copy_of_soc(11, 3)
    with pytest.raises(ValueError, match="ff"):
        plots.trajectories_figure(soc, {"ff": model[:-1]}, 3)


def test_similarity_figures_draw_a_single_seed_without_intervals(tmp_path):
    table = _similarity_table(np.random.default_rng(12), seeds=(7,), ks=(2,))
    spectra = table[table["metric"] == "cca"].drop(columns=["muscle_fraction", "metric"])
    spectra = spectra.assign(index=0)
    summary = stats.summarise(table, by=["model", "population", "metric", "k", "neuron_fraction"])
    figures = [
        plots.cca_means_figure(table),
        plots.cca_spectra_figure(spectra),
        plots.cca_vs_fraction_figure(summary),
    ]
    for i, fig in enumerate(figures):
        assert len(_data_axes(fig)) == 3
        fig.savefig(tmp_path / f"{i}.png", dpi=40)
        assert (tmp_path / f"{i}.png").stat().st_size > 1000
