"""The Soda contracts stay in step with the marts' dbt contracts and the overlay."""

import copy

import pytest
import yaml

from warehouse import soda_contracts
from warehouse.soda_contracts import ContractSourceError, build_contract, drift, mart_models


def test_committed_soda_contracts_match_the_dbt_contracts_and_the_overlay():
    problems = drift()
    assert not problems, "Soda contracts drifted (run `make expectations`):\n" + "\n".join(problems)


def test_every_mart_column_and_type_is_in_its_contract():
    overlay = soda_contracts.load_overlay()
    for name, (model, _) in mart_models().items():
        contract = build_contract(name, model, overlay)
        declared = [(c["name"], c["data_type"]) for c in model["columns"]]
        got = [(c["name"], c["data_type"]) for c in contract["columns"]]
        assert [n for n, _ in got] == [n for n, _ in declared], name
        for (col, got_type), (_, dbt_type) in zip(got, declared, strict=True):
            assert got_type == soda_contracts.PG_TYPE_NAMES.get(dbt_type, dbt_type), (name, col)


def test_a_changed_dbt_column_type_and_a_stale_file_show_as_drift(tmp_path, monkeypatch):
    models = mart_models()
    name = sorted(models)[0]
    committed = (soda_contracts.CONTRACTS_DIR / f"{name}.yml").read_text()
    model = copy.deepcopy(models[name][0])
    model["columns"][0]["data_type"] = "uuid"
    marts = tmp_path / "dbt_project" / "models" / "marts"
    marts.mkdir(parents=True)
    (marts / "_x__models.yml").write_text(yaml.safe_dump({"version": 2, "models": [model]}))
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / f"{name}.yml").write_text(committed)
    (contracts / "gone.yml").write_text("dataset: x\n")
    monkeypatch.setattr(soda_contracts, "MARTS_DIR", marts)
    monkeypatch.setattr(soda_contracts, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(soda_contracts, "CONTRACTS_DIR", contracts)
    monkeypatch.setattr(soda_contracts, "OVERLAY_PATH", tmp_path / "overlay.yml")
    (tmp_path / "overlay.yml").write_text("conventions: {}\nmarts: {}\n")
    problems = drift()
    assert problems == [
        "contracts/gone.yml: no longer a mart",
        f"contracts/{name}.yml: differs from its dbt contract",
    ]


def test_the_overlay_replaces_a_derived_check_and_adds_its_own():
    column = {
        "name": "band",
        "data_type": "text",
        "constraints": [{"type": "primary_key"}],
        "data_tests": [{"accepted_values": {"arguments": {"values": ["a", "b"]}}}],
    }
    model = {"config": {"contract": {"enforced": True}}, "description": "d", "columns": [column]}
    plain = build_contract("m", model, {"conventions": {}, "marts": {}})
    assert plain["columns"][0]["checks"] == [
        {"missing": None},
        {"duplicate": None},
        {"invalid": {"valid_values": ["a", "b"]}},
    ]
    overlay = {"conventions": {"band": [{"invalid": {"valid_values": ["a"]}}]}, "marts": {}}
    assert build_contract("m", model, overlay)["columns"][0]["checks"][-1] == {
        "invalid": {"valid_values": ["a"]}
    }


def test_an_unenforced_contract_or_an_unknown_overlay_column_is_refused():
    model = {"description": "d", "columns": [{"name": "a", "data_type": "text"}]}
    with pytest.raises(ContractSourceError, match="not enforced"):
        build_contract("m", model, {"conventions": {}, "marts": {}})
    model["config"] = {"contract": {"enforced": True}}
    with pytest.raises(ContractSourceError, match="no column"):
        build_contract("m", model, {"conventions": {}, "marts": {"m": {"b": []}}})
