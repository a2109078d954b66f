"""Failed outbound attempts: handshake-only request records the remote never really answered."""

from __future__ import annotations

import polars as pl

from keibi.detect.network.attempts import NO_PAYLOAD, SMALL_TCP, failed_outbound
from tests.detect._frames import intel_for, parsed, sample_dir

PORTSCAN = sample_dir("network.portscan")
SWEEP = sample_dir("network.port_sweep")


def _flows(folder_name: str) -> pl.DataFrame:
    folder, name = folder_name.split("/")
    path = {"portscan": PORTSCAN, "port_sweep": SWEEP}[folder] / name
    _, batch = parsed(path, intel_for(path.parent))
    return batch.filter(SMALL_TCP)


def test_ports_that_completed_the_handshake_are_answered() -> None:
    failed = failed_outbound(_flows("portscan/hit_connect_scan_some_open.log"))
    assert failed.height == 55
    assert not set(failed["remote_port"]) & {22, 80, 443, 3306, 8080}
    assert (failed["srcaddr"] == "172.31.10.11").all()  # request records only, never the RSTs


def test_answers_are_matched_on_the_logged_tuple_when_v2_cannot_say_which_side_is_local() -> None:
    # both ends private, v2: enrichment takes the source as local, so the node's answers look
    # like inbound connections on the monitor's interface; they still answer the checks
    flows = _flows("portscan/miss_nodeport_health_checks.log")
    assert flows.filter(pl.col("srcaddr") == "172.31.40.7")["direction"].unique().to_list() == ["INBOUND"]
    assert failed_outbound(flows).is_empty()


def test_talking_connections_are_not_attempts() -> None:
    flows = _flows("port_sweep/hit_redis_sweep.log")
    failed = failed_outbound(flows)
    assert failed["remote_ip"].n_unique() == 147  # the 3 open Redis servers got a payload
    assert failed.filter(~NO_PAYLOAD).is_empty()


def test_blocked_attempts_count() -> None:
    failed = failed_outbound(_flows("port_sweep/hit_smb_sweep_blocked_v5.log"))
    assert failed.height == 120 and set(failed["action"]) == {"REJECT"}
