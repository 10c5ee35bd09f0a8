"""The replay report: a finished replay database plus what the runner knows, as
deterministic Markdown, JSON and an equity-curve PNG.

    report = build_report(db_url, run_info=RunInfo(label="orchestrator", inputs=..., settings=...))
    write_report(report, out_dir)                 # report.md, report.json, equity.png
    write_comparison(enabled, baseline, out_dir)  # comparison.md/.json/.png + each run's files

Two identical runs give byte-identical `report.json` files apart from `generated_at`.
Metric definitions are in `service.report.metrics`.
"""

from service.report.build import GENERATED_AT, InputFile, Report, RunInfo, build_report, code_version, settings_summary
from service.report.comparison import write_comparison
from service.report.render import write_report

__all__ = [
    "GENERATED_AT",
    "InputFile",
    "Report",
    "RunInfo",
    "build_report",
    "code_version",
    "settings_summary",
    "write_comparison",
    "write_report",
]
