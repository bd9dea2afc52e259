"""Figures about your memories: how many of each kind, day by day, and the search cache.

It reads every memory of the caller (GET /api/v1/memory/memories, page by page) and the
summary, counts them by type and category and by the day they were stored, and asks
GET /api/v1/memory/cache/stats for the search cache's hit rate (a service generated without
the cache option answers 404: "no cache"). The figures are printed as tables; --png also
draws them as a bar chart.

    uv run python -m examples.memory_analytics
    uv run python -m examples.memory_analytics --png   # the chart: data/memory-analytics.png
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from examples._client import MEMORY_API, checked, connect, parser, run

PAGE_SIZE = 100  # the most GET /memories returns at once
DEFAULT_CHART = Path("data/memory-analytics.png")  # under DATA_DIR's default, which git ignores


@dataclass
class Figures:
    user_id: str
    total: int
    by_kind: Counter[tuple[str, str]]  # (type, category) -> memories
    by_day: Counter[str]  # ISO date, local time -> memories
    latest: str | None
    cache: dict[str, Any] | None  # None: the service has no search cache


def all_memories(http: httpx.Client) -> list[dict[str, Any]]:
    memories: list[dict[str, Any]] = []
    while True:
        params = {"limit": PAGE_SIZE, "offset": len(memories)}
        page = checked(http.get(f"{MEMORY_API}/memories", params=params))
        memories.extend(page["results"])
        if not page["results"] or len(memories) >= page["total"]:
            return memories


def day_of(created_at: str | None) -> str:
    """The local calendar day a memory was stored on (stores record it in various zones)."""
    if not created_at:
        return "unknown"
    try:
        return datetime.fromisoformat(created_at).astimezone().date().isoformat()
    except ValueError:
        return "unknown"


def cache_stats(http: httpx.Client) -> dict[str, Any] | None:
    response = http.get(f"{MEMORY_API}/cache/stats")
    if response.status_code == 404:
        return None
    stats: dict[str, Any] = checked(response)
    return stats


def gather(http: httpx.Client) -> Figures:
    memories = all_memories(http)
    answer = checked(http.get(f"{MEMORY_API}/summary"))
    summary = answer["summary"]
    by_kind: Counter[tuple[str, str]] = Counter()
    for item in memories:
        metadata = item.get("metadata") or {}
        by_kind[(str(metadata.get("type", "other")), str(metadata.get("category", "-")))] += 1
    recent = summary["recent_memories"]
    return Figures(
        user_id=answer["user_id"],
        total=summary["total_memories"],
        by_kind=by_kind,
        by_day=Counter(day_of(item.get("created_at")) for item in memories),
        latest=recent[0]["memory"] if recent else None,
        cache=cache_stats(http),
    )


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain-text table: text columns left-aligned, numbers right-aligned."""
    cells = [headers, *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        bool(rows) and all(isinstance(row[i], int) for row in rows) for i in range(len(headers))
    ]
    lines = []
    for row in cells:
        parts = [
            cell.rjust(width) if is_number else cell.ljust(width)
            for cell, width, is_number in zip(row, widths, numeric, strict=True)
        ]
        lines.append("  " + "  ".join(parts).rstrip())
    return "\n".join(lines)


def percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def cache_line(cache: dict[str, Any] | None) -> str:
    if cache is None:
        return "Search cache: no cache (the service was generated without it)"
    rate = "n/a" if cache["hit_rate"] is None else percent(cache["hit_rate"])
    return (
        f"Search cache ({cache['backend']}, whole service): {cache['hits']} hits, "
        f"{cache['misses']} misses, hit rate {rate}"
    )


def report(figures: Figures) -> str:
    kinds = [[kind, category, count] for (kind, category), count in sorted(figures.by_kind.items())]
    days = [[day, count] for day, count in sorted(figures.by_day.items())]
    sections = [
        f"Memories of {figures.user_id}: {figures.total}",
        f"Latest: {figures.latest}" if figures.latest else "Latest: (none yet)",
        "",
        "By type and category",
        table(["type", "category", "memories"], kinds),
        "",
        "By day (local time)",
        table(["day", "memories"], days),
        "",
        cache_line(figures.cache),
    ]
    return "\n".join(sections)


def save_chart(figures: Figures, path: Path) -> None:
    """Two bar charts side by side, drawn without a display (matplotlib's Figure API)."""
    # Imported here: only --png needs matplotlib, and it takes a while to import.
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(11, 4.5), layout="constrained")
    by_kind, by_day = figure.subplots(1, 2)
    kinds = sorted(figures.by_kind.items())
    by_kind.barh([f"{k} / {c}" if c != "-" else k for (k, c), _ in kinds], [n for _, n in kinds])
    by_kind.set_title("Memories by type and category")
    by_kind.set_xlabel("memories")
    by_kind.xaxis.set_major_locator(MaxNLocator(integer=True))
    days = sorted(figures.by_day.items())
    by_day.bar([day for day, _ in days], [n for _, n in days])
    by_day.set_title("Memories stored per day")
    by_day.set_ylabel("memories")
    by_day.yaxis.set_major_locator(MaxNLocator(integer=True))
    by_day.tick_params(axis="x", labelrotation=45)
    title = f"Memories of {figures.user_id}: {figures.total}"
    if figures.cache is not None and figures.cache["hit_rate"] is not None:
        title += f"  (search cache hit rate, whole service: {percent(figures.cache['hit_rate'])})"
    figure.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument(
        "--png",
        type=Path,
        nargs="?",
        const=DEFAULT_CHART,
        help=f"also save the figures as a PNG bar chart (default: {DEFAULT_CHART}, git-ignored)",
    )
    args = arguments.parse_args()
    with connect(args) as http:
        figures = gather(http)
    print(report(figures))
    if args.png:
        save_chart(figures, args.png)
        print(f"\nChart saved to {args.png}")


if __name__ == "__main__":
    run(main)
