"""The python-threatexchange plug-in against a real exchange, through the real threatexchange package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image
from threatexchange.exchanges.fetch_state import SignalOpinion, SignalOpinionCategory
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal

from client_sdk import Identifier, Signal
from client_sdk.contrib.threatexchange import (
    PSEUDONYM_SIGNALS,
    SignalExchangeCollabConfig,
    SignalExchangeSignalExchangeAPI,
    SigxEmailSignal,
    SigxPhotoMD5Signal,
)
from tests.harness import start_exchange

pytestmark = pytest.mark.integration
TYPES = [PdqSignal, VideoMD5Signal, SigxPhotoMD5Signal, *PSEUDONYM_SIGNALS]
CAT = "sextortion.financial"


@pytest.fixture
def ex(tmp_path):
    exchange = start_exchange(tmp_path, pull_page=50)
    yield exchange
    exchange.running.stop(grace=1)


def _api(ex, name="demo-b", **config):
    collab = SignalExchangeCollabConfig(name="sigx", **config)
    return SignalExchangeSignalExchangeAPI(collab, ex.creds(name), page_size=40)


def _merge(state, delta):
    SignalExchangeSignalExchangeAPI.naive_fetch_merge(state, delta.updates)


def test_fetch_resume_without_gap_or_duplicate_and_deletes_as_none(ex):
    with ex.client("demo-a") as a:
        results = a.submit([Signal(Identifier("email", f"p{i}@example.com"), category=CAT) for i in range(150)])
    api = _api(ex)
    first = []
    deltas = api.fetch_iter(TYPES, None)
    for delta in deltas:  # interrupted after two pages
        first.append(delta)
        if len(first) == 2:
            break
    deltas.close()
    assert [len(d.updates) for d in first] == [40, 40]
    with ex.client("demo-a") as a:
        a.retract(results[3].signal_id, reason="appeal upheld")  # delivered already: must come back as None
        a.retract(results[120].signal_id, reason="appeal upheld")  # not delivered yet
    resumed = list(_api(ex).fetch_iter(TYPES, first[-1].checkpoint))
    keys_before = [k for d in first for k in d.updates]
    keys_after = [k for d in resumed for k in d.updates if d.updates[k] is not None]
    assert not set(keys_before) & set(keys_after), "a signal delivered twice"
    assert len(keys_before) + len(keys_after) == 149  # every signal once, less the one retracted before delivery
    deleted = [k for d in resumed for k, v in d.updates.items() if v is None]
    assert len(deleted) == 2
    seqs = [d.checkpoint.seq for d in first + resumed]
    assert seqs == sorted(seqs)
    times = [d.checkpoint.get_progress_timestamp() for d in first + resumed]
    assert times == sorted(times) and not first[-1].checkpoint.is_stale()
    state: dict = {}
    for d in first + resumed:
        _merge(state, d)
    assert len(state) == 148
    record = next(iter(state.values()))
    assert record.signals[0].submitter == "demo-a" and record.signals[0].category == CAT
    # nothing new: a fetch from the last checkpoint yields no updates
    assert all(not d.updates for d in _api(ex).fetch_iter(TYPES, resumed[-1].checkpoint))


def test_shared_value_survives_one_retraction_and_expiry_deletes(ex):
    email = Identifier("email", "shared@example.com")
    with ex.client("demo-a") as a, ex.client("demo-b") as b:
        mine = a.submit([Signal(email, category=CAT)])[0]
        b.submit([Signal(email, category=CAT)])
        soon = int(ex.clock()) + 30
        a.submit([Signal(Identifier("email", "brief@example.com"), category=CAT, expires_at=soon)])
        [pseudonym] = b.pseudonymise([email])
    clock = [float(ex.clock())]
    api = SignalExchangeSignalExchangeAPI(
        SignalExchangeCollabConfig(name="sigx"), ex.creds("demo-b"), clock=lambda: clock[0]
    )
    deltas = list(api.fetch_iter(TYPES, None))
    state: dict = {}
    for d in deltas:
        _merge(state, d)
    key = (SigxEmailSignal.get_name(), pseudonym.hex())
    assert {s.submitter for s in state[key].signals} == {"demo-a", "demo-b"}
    assert any(o.is_mine for o in state[key].get_as_opinions())
    with ex.client("demo-a") as a:
        a.retract(mine.signal_id)
    clock[0] += 60  # the brief signal has expired
    later = list(api.fetch_iter(TYPES, deltas[-1].checkpoint))
    for d in later:
        _merge(state, d)
    assert [s.submitter for s in state[key].signals] == ["demo-b"]  # still shared by demo-b
    assert len(state) == 1
    assert any(v is None for d in later for v in d.updates.values())


def test_report_opinion_is_signed_feedback_and_counts_come_back(ex):
    with ex.client("demo-a") as a:
        a.submit([Signal(Identifier("media_md5", "d41d8cd98f00b204e9800998ecf8427e"), category=CAT)])
    api = _api(ex)
    md5 = "d41d8cd98f00b204e9800998ecf8427e"
    # a verdict named in the tags wins over the opinion's category
    api.report_opinion(SigxPhotoMD5Signal, md5, SignalOpinion(True, SignalOpinionCategory.POSITIVE_CLASS, {"actioned"}))
    with ex.client("demo-a") as a:
        [hit] = a.lookup([("media_md5", bytes.fromhex(md5))])
    assert hit.matches[0].feedback["actioned"] == 1
    api.report_opinion(VideoMD5Signal, md5, SignalOpinion(True, SignalOpinionCategory.NEGATIVE_CLASS, set()))
    with ex.client("demo-a") as a:
        [hit] = a.lookup([("media_md5", bytes.fromhex(md5))])
    assert hit.matches[0].feedback["false_positive"] == 1
    state: dict = {}
    for d in api.fetch_iter(TYPES, None):
        _merge(state, d)
    record = state[(VideoMD5Signal.get_name(), md5)]
    assert state[(SigxPhotoMD5Signal.get_name(), md5)] == record
    assert record.feedback_counts()["false_positive"] >= 1
    opinions = record.get_as_opinions()
    assert SignalOpinionCategory.NEGATIVE_CLASS in {o.category for o in opinions if o.is_mine}
    assert SignalOpinionCategory.POSITIVE_CLASS in {o.category for o in opinions if not o.is_mine}
    with pytest.raises(ValueError, match="no other member"):
        api.report_opinion(PdqSignal, "f" * 64, SignalOpinion(True, SignalOpinionCategory.POSITIVE_CLASS, set()))


def _pdq_hex(path: Path) -> str:
    """PDQ of an image with the pdqhash package, bits in order, as hex (the convention pytx uses)."""
    vector, _quality = pdqhash.compute(np.asarray(Image.open(path).convert("RGB")))
    return f"{int(''.join(str(int(b)) for b in vector), 2):064x}"


def _image(path: Path) -> Path:
    rng = np.random.default_rng(7)
    base = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(base).resize((256, 256), Image.Resampling.BILINEAR).save(path)
    return path


def test_threatexchange_cli_end_to_end(ex, tmp_path):
    image = _image(tmp_path / "photo.png")
    pdq = _pdq_hex(image)
    with ex.client("demo-a") as a:
        # a second, unrelated hash: pytx 1.2's PDQ index loses its only entry when saved and loaded again
        other = Signal(Identifier("media_pdq", "f0" * 32), category=CAT)
        submitted, _ = a.submit([Signal(Identifier("media_pdq", pdq), category=CAT), other])
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "SIGX_CREDENTIALS": str(ex.creds("demo-b"))}

    def tx(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "threatexchange", *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr + done.stdout
        return done.stdout

    assert "signal_exchange" in tx("config", "extensions", "add", "client_sdk.contrib.threatexchange")
    tx("config", "collab", "edit", "signal_exchange", "sigx", "--create")
    tx("fetch")
    out = tx("match", "photo", str(image))
    assert out.startswith("pdq 0 (sigx)") and "POSITIVE_CLASS" in out, out
    tx("label", "-H", "pdq", "sigx", "photo", "--", pdq)
    with ex.client("demo-a") as a:
        [hit] = a.lookup([("media_pdq", bytes.fromhex(pdq))], max_distance=0)
    [match] = hit.matches
    assert match.signal_id == submitted.signal_id and match.feedback["confirmed"] == 1
