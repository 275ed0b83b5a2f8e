"""Human-readable report of a FitResult."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scalefit.fitting.result import FitResult


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def format_report(fit: FitResult, *, level: float = 0.95) -> str:
    law = fit.law_spec
    lines = [f"law      {law.name}: {law.equation}", f"source   {law.source}"]
    d = fit.data
    lines.append(f"data     {d.get('source')} ({d.get('n_rows')} rows, hash {d.get('hash')})")
    if d.get("where"):
        lines.append(f"where    {d['where']}")
    from scalefit.fitting.rows import describe

    lines += describe(d)  # per-run reduction, row weights, anchors
    prov = d.get("provenance", {})
    if prov:
        lines.append("columns  " + ", ".join(f"{s} ← {src}" for s, src in prov.items()))
    st = fit.stats
    lines.append(
        f"objective {st['loss']}(delta={st['delta']:g}) on {st['space']} residuals: sum = {st['objective']:.6g}; "
        f"RMSE(log) = {st['rmse_log']:.4g}; AIC = {st['aic']:.2f}; BIC = {st['bic']:.2f}"
    )
    se = fit.search
    lines.append(
        f"search   {se['n_reached']} of {se['n_starts']} starts reached the best optimum; converged: {se['converged']}"
    )
    if se.get("widened") or se.get("nested"):
        seeded = f"the optima of {', '.join(se['nested'])} among the starts" if se.get("nested") else ""
        wider = (f"{se['widened']} starts added around the best optima, as few had reached it"
                 if se.get("widened") else "")
        lines.append(f"         ({'; '.join(s for s in (seeded, wider) if s)})")
    sc = se.get("screen")
    if sc:
        confirm = "" if sc["confirm_rows"] == sc["of_rows"] else f" on {sc['confirm_rows']:,} rows, "
        lines.append(f"         (all {sc['starts']} starts descended on a stratified {sc['rows']:,} of "
                     f"{sc['of_rows']:,} rows; the best {sc['basins']} distinct basins{confirm}; "
                     f"{sc['descended_on_all_rows']} of them to convergence on all rows)")
    from scalefit.fitting.intervals import label

    ivals = fit.intervals(level=level)
    se = fit.standard_errors()
    head = f"{'parameter':<12}{'value':>14}" + (f"{'std. error':>14}" if se else "") + (
        f"   {label('parameter', level)} ({fit.interval_method()})" if ivals else "")
    lines += ["", head]
    for name, value in fit.params.items():
        extra = f"   [{_fmt(ivals[name][0])}, {_fmt(ivals[name][1])}]" if name in ivals else ""
        err = f"{_fmt(se[name]):>14}" if name in se else (" " * 14 if se else "")
        lines.append(f"{name:<12}{_fmt(value):>14}{err}{extra}")
    lines += [f"{name:<12}{_fmt(value):>14}   (fixed)" for name, value in law.fixed.items()]
    scalar = [(k, dd) for k, dd in law.derived.items() if not dd.needs]
    if scalar:
        lines += ["", "derived"]
        for k, dd in scalar:
            v = float(fit.derived(k))
            extra = f"   [{_fmt(ivals[k][0])}, {_fmt(ivals[k][1])}]" if k in ivals else ""
            lines.append(f"{k:<12}{_fmt(v):>14}{' ' * 14 if se else ''}{extra}   {dd.doc}")
    for w in se.get("warnings", []):
        lines.append(f"warning: {w}")
    return "\n".join(lines)
