"""Soda contracts on the marts, verified right after the dbt build."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warehouse import progress
from warehouse.settings import PROJECT_ROOT, Settings

SODA_DIR = PROJECT_ROOT / "expectations" / "soda"
CONTRACTS_DIR = SODA_DIR / "contracts"
# the analytics marts' contracts: verified by the analytics DAG after each step, not by
# the transform DAG (the marts are built after it)
ANALYTICS_CONTRACTS_DIR = SODA_DIR / "analytics"


class ContractFailed(RuntimeError):
    pass


@dataclass
class ContractReport:
    results: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (passed, failed)
    problems: list[str] = field(default_factory=list)

    @property
    def checks_passed(self) -> int:
        return sum(p for p, _ in self.results.values())

    @property
    def checks_failed(self) -> int:
        return sum(f for _, f in self.results.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "contracts": {k: {"passed": p, "failed": f} for k, (p, f) in self.results.items()},
            "problems": self.problems,
        }


def contract_files(directory: Path = CONTRACTS_DIR) -> list[Path]:
    return sorted(directory.glob("*.yml"))


def verify_contracts(
    settings: Settings, names: list[str] | None = None, directory: Path = CONTRACTS_DIR
) -> ContractReport:
    """Verify every mart contract in ``directory`` (or the named ones); raise
    ``ContractFailed`` on any failure."""
    from soda_core.contracts import verify_contract_locally

    settings.apply_tool_env()
    report = ContractReport()
    paths = [p for p in contract_files(directory) if not names or p.stem in names]
    for path in paths:
        result = verify_contract_locally(
            data_source_file_path=str(SODA_DIR / "datasource.yml"),
            contract_file_path=str(path),
            variables={"DATABASE": settings.conninfo().dbname},
        )
        report.results[path.stem] = (result.number_of_checks_passed, result.number_of_checks_failed)
        progress.advance("soda", total=len(paths), checks=result.number_of_checks_passed)
        if not result.is_ok:
            report.problems.append(
                f"{path.stem}: {result.number_of_checks_failed} check(s) failed"
                + (f"; errors: {result.get_errors_str()}" if result.has_errors else "")
            )
    if report.problems:
        raise ContractFailed("Soda contracts failed:\n" + "\n".join(report.problems))
    return report
