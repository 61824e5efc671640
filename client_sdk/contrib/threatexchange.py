"""A python-threatexchange exchange plug-in, so Hasher-Matcher-Actioner (HMA 2.x) and the
``threatexchange`` CLI fetch this exchange's signals like StopNCII's or NCMEC's.

Install with the extra ``signal-exchange[threatexchange]``; add it to the CLI with
``threatexchange config extensions add client_sdk.contrib.threatexchange``, to HMA with the
``exchange_types`` and ``signal_types`` lines in the README.

* ``SignalExchangeSignalExchangeAPI`` fetches through ``ExchangeClient.pull`` from a cursor kept in
  the checkpoint, one ``FetchDelta`` per page in log order. A record is keyed by (signal type, hash)
  and holds every active signal of that value the member may see (several members may share one
  value), with the feedback counts; a value whose last signal was retracted or expired becomes
  ``None`` (a delete).
* Media: ``media_pdq`` is pytx's ``PdqSignal``; ``media_md5`` is pytx's ``VideoMD5Signal`` and, as
  the exchange does not say whether an MD5 is of a photo or a video, also ``SigxPhotoMD5Signal``
  (pytx's own MD5 type matches videos only). Identifier pseudonyms are exact-match types of ours, one
  per identifier type (``sigx_email``, ``sigx_phone``, …), whose signal string is the pseudonym's hex.
* ``report_opinion`` turns a pytx opinion into this exchange's signed feedback on every other
  member's active signal of that value.

PERMANENT NAMES. HMA stores collaboration configs and checkpoints as JSON by the API's
``get_name()`` and pickles fetched records by class path, and the CLI keeps its state the same way:
``signal_exchange``, the signal type names, this module's path and the class names below must never
change, or stored state stops loading.

No ``from __future__ import annotations`` here: pytx reads the config dataclass's field types at run
time to build its command-line flags and HMA's forms.
"""

import hashlib
import re
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from threatexchange.content_type.content_base import ContentType
from threatexchange.content_type.photo import PhotoContent
from threatexchange.content_type.text import TextContent
from threatexchange.exchanges import auth
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigWithDefaults
from threatexchange.exchanges.signal_exchange_api import SignalExchangeAPIWithSimpleUpdates
from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest
from threatexchange.signal_type import signal_base
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal

from client_sdk.client import ExchangeClient
from client_sdk.contrib._read_ahead import ReadAhead
from client_sdk.contrib._signal_index import IndexedSignal, SignalIndex, signal_key
from client_sdk.credentials import Credentials
from client_sdk.models import Event
from client_sdk.vocab import VERDICTS

API_NAME = "signal_exchange"  # permanent: see the module docstring
PAGE = 1000  # events per FetchDelta
NO_EXPIRY = 1 << 62  # a signal submitted without expires_at lives until its category's maximum (not known here)
_OPINION_VERDICT = {
    state.SignalOpinionCategory.POSITIVE_CLASS: "confirmed",
    state.SignalOpinionCategory.NEGATIVE_CLASS: "false_positive",
    state.SignalOpinionCategory.INVESTIGATION_SEED: "not_found",
}
_VERDICT_OPINION = {
    "confirmed": state.SignalOpinionCategory.POSITIVE_CLASS,
    "actioned": state.SignalOpinionCategory.POSITIVE_CLASS,
    "false_positive": state.SignalOpinionCategory.NEGATIVE_CLASS,
    "not_found": state.SignalOpinionCategory.INVESTIGATION_SEED,
    "duplicate": state.SignalOpinionCategory.INVESTIGATION_SEED,
}


# -- signal types --------------------------------------------------------------------------


class SigxPhotoMD5Signal(signal_base.SimpleSignalType, signal_base.BytesHasher):
    """The MD5 of a photo file, exact match (pytx's own MD5 type is for videos only)."""

    @classmethod
    def get_name(cls) -> str:
        return "sigx_photo_md5"

    @classmethod
    def get_content_types(cls) -> list[type[ContentType]]:
        return [PhotoContent]

    @classmethod
    def get_index_cls(cls) -> type[signal_base.TrivialSignalTypeIndex]:
        return signal_base.TrivialSignalTypeIndex

    @classmethod
    def validate_signal_str(cls, signal_str: str) -> str:
        normalized = signal_str.strip().lower()
        if not re.fullmatch("[0-9a-f]{32}", normalized):
            raise ValueError(f"{signal_str!r} is not an MD5 hash (32 hex digits)")
        return normalized

    @classmethod
    def hash_from_bytes(cls, bytes_: bytes) -> str:
        return hashlib.md5(bytes_).hexdigest()

    @staticmethod
    def get_examples() -> list[str]:
        return ["d41d8cd98f00b204e9800998ecf8427e"]


class _PseudonymSignal(signal_base.SimpleSignalType):
    """An identifier's pseudonym on this exchange (64 hex digits), exact match.

    Pseudonyms are made by the exchange's VOPRF, so nothing here hashes content: a member finds its
    own identifiers' pseudonyms with ``ExchangeClient.pseudonymise`` and matches those.
    """

    IDENTIFIER: t.ClassVar[str] = ""

    @classmethod
    def get_name(cls) -> str:
        return f"sigx_{cls.IDENTIFIER}"

    @classmethod
    def get_content_types(cls) -> list[type[ContentType]]:
        return [TextContent]

    @classmethod
    def get_index_cls(cls) -> type[signal_base.TrivialSignalTypeIndex]:
        return signal_base.TrivialSignalTypeIndex

    @classmethod
    def validate_signal_str(cls, signal_str: str) -> str:
        normalized = signal_str.strip().lower()
        if not re.fullmatch("[0-9a-f]{64}", normalized):
            raise ValueError(f"not a {cls.IDENTIFIER} pseudonym (64 hex digits)")
        return normalized

    @staticmethod
    def get_examples() -> list[str]:
        return ["00" * 32]


class SigxEmailSignal(_PseudonymSignal):
    IDENTIFIER = "email"


class SigxPhoneSignal(_PseudonymSignal):
    IDENTIFIER = "phone"


class SigxUsernameSignal(_PseudonymSignal):
    IDENTIFIER = "username"


class SigxPaymentHandleSignal(_PseudonymSignal):
    IDENTIFIER = "payment_handle"


class SigxUrlSignal(_PseudonymSignal):
    IDENTIFIER = "url"


class SigxDomainSignal(_PseudonymSignal):
    IDENTIFIER = "domain"


class SigxIpSignal(_PseudonymSignal):
    IDENTIFIER = "ip"


PSEUDONYM_SIGNALS: tuple[type[_PseudonymSignal], ...] = (
    SigxEmailSignal,
    SigxPhoneSignal,
    SigxUsernameSignal,
    SigxPaymentHandleSignal,
    SigxUrlSignal,
    SigxDomainSignal,
    SigxIpSignal,
)
# exchange (SDK) type name -> the pytx signal types its values appear as
PYTX_TYPES: dict[str, tuple[type[signal_base.SignalType], ...]] = {
    "media_pdq": (PdqSignal,),
    "media_md5": (VideoMD5Signal, SigxPhotoMD5Signal),
    **{s.IDENTIFIER: (s,) for s in PSEUDONYM_SIGNALS},
}
_SDK_TYPE = {pytx.get_name(): sdk for sdk, types in PYTX_TYPES.items() for pytx in types}
#: The pytx names of each SDK type, computed once (pytx derives a name from the class name per call).
_PYTX_NAMES: dict[str, tuple[str, ...]] = {sdk: tuple(t.get_name() for t in types) for sdk, types in PYTX_TYPES.items()}


# -- configuration, credentials, checkpoint, records ------------------------------------------


@dataclass
class SignalExchangeCollabConfig(CollaborationConfigWithDefaults):
    """One collaboration: what to fetch from which exchange."""

    api: str = field(init=False, default=API_NAME)
    server: str = field(
        default="",
        metadata={"help": "Exchange address HOST:PORT (or a replica list). Leave blank for the one in member.json."},
    )
    categories: set[str] = field(
        default_factory=set,
        metadata={"help": "Only signals of these categories (e.g. sextortion.financial). Blank: all you may read."},
    )
    audiences: set[str] = field(
        default_factory=set,
        metadata={
            "help": "Only signals shared with these groups; 'all-members' names signals shared with everyone. "
            "Blank: every audience you may read."
        },
    )
    verify_signatures: bool = field(
        default=True,
        metadata={"help": "Check every signal's Ed25519 signature against the member directory (recommended)."},
    )
    state_dir: str = field(
        default="",
        metadata={"help": "Where this plug-in keeps its signal index. Blank: the credentials directory."},
    )


@dataclass
class SignalExchangeCredentials(auth.CredentialHelper):
    """The member's credentials directory (member.json, ca.crt, tls.crt, tls.key, signing.key)."""

    ENV_VARIABLE: t.ClassVar[str] = "SIGX_CREDENTIALS"
    FILE_NAME: t.ClassVar[str] = "~/.sigx_credentials"

    credentials_dir: str = field(
        metadata={"help": "Path of the credentials directory the exchange's operator gave you (sigx admin member add)."}
    )

    @classmethod
    def _from_str(cls, s: str) -> "SignalExchangeCredentials":
        return cls(s.strip())

    def _are_valid(self) -> bool:
        return (Path(self.credentials_dir).expanduser() / "member.json").is_file()


@dataclass
class SignalExchangeCheckpoint(state.FetchCheckpointBase):
    """Where the fetch is: the exchange's cursor (everything up to it has been delivered), the receipt
    time of the last event delivered, and the time up to which expiries have been delivered."""

    cursor: str = ""
    event_time: int = 0
    expired_through: int = 0

    def is_stale(self) -> bool:
        return False  # the exchange keeps its log: a cursor never goes stale

    def get_progress_timestamp(self) -> int | None:
        return self.event_time

    @property
    def seq(self) -> int:
        return int(self.cursor[3:]) if self.cursor.startswith("c1.") and self.cursor[3:].isdigit() else 0


@dataclass
class SharedSignalEntry:
    """One active signal on a value: who shared it, as what, and the feedback it has had."""

    signal_id: int
    submitter: str
    category: str
    confidence: int
    labels: list[str]
    expires_at: int
    feedback: dict[str, int]  # verdict -> count, every member's
    my_verdicts: list[str]  # the fetching member's own feedback on it


@dataclass
class SignalExchangeSignalMetadata(state.FetchedSignalMetadata):
    """Everything the exchange says about one value, for the member that fetched it."""

    member_id: str
    signals: list[SharedSignalEntry]

    def get_as_opinions(self) -> t.Sequence[state.SignalOpinion]:
        """Each sharing is a positive opinion (tags: category and labels); each feedback event is one
        more: confirmed/actioned positive, false_positive negative, not_found/duplicate a seed."""
        opinions: list[state.SignalOpinion] = []
        for s in self.signals:
            tags = {s.category, *s.labels}
            opinions.append(
                state.SignalOpinion(s.submitter == self.member_id, state.SignalOpinionCategory.POSITIVE_CLASS, tags)
            )
            mine = list(s.my_verdicts)
            for verdict, count in sorted(s.feedback.items()):
                for _ in range(count):
                    is_mine = verdict in mine
                    if is_mine:
                        mine.remove(verdict)
                    opinions.append(state.SignalOpinion(is_mine, _VERDICT_OPINION[verdict], {verdict}))
        return opinions

    def feedback_counts(self) -> dict[str, int]:
        """Feedback counts over every signal of this value."""
        totals = dict.fromkeys(VERDICTS, 0)
        for s in self.signals:
            for verdict, count in s.feedback.items():
                totals[verdict] += count
        return totals


Updates = dict[tuple[str, str], SignalExchangeSignalMetadata | None]


# -- the API ----------------------------------------------------------------------------------


class SignalExchangeSignalExchangeAPI(
    auth.SignalExchangeWithAuth[SignalExchangeCollabConfig, SignalExchangeCredentials],
    SignalExchangeAPIWithSimpleUpdates[
        SignalExchangeCollabConfig, SignalExchangeCheckpoint, SignalExchangeSignalMetadata
    ],
):
    """Fetch this exchange's signals and report opinions back as signed feedback."""

    def __init__(
        self,
        collab: SignalExchangeCollabConfig,
        credentials_dir: str | Path,
        *,
        clock: t.Callable[[], float] = time.time,
        page_size: int = PAGE,
    ) -> None:
        """``credentials_dir``: the member's credentials directory (raises CredentialsError if unusable)."""
        self.collab = collab
        self.credentials_dir = Path(credentials_dir).expanduser()
        self.credentials = Credentials.load(self.credentials_dir)
        self._clock = clock
        self._page_size = page_size
        self._client: ExchangeClient | None = None

    @classmethod
    def get_name(cls) -> str:
        return API_NAME

    @staticmethod
    def get_config_cls() -> type[SignalExchangeCollabConfig]:
        return SignalExchangeCollabConfig

    @staticmethod
    def get_checkpoint_cls() -> type[SignalExchangeCheckpoint]:
        return SignalExchangeCheckpoint

    @staticmethod
    def get_record_cls() -> type[SignalExchangeSignalMetadata]:
        return SignalExchangeSignalMetadata

    @staticmethod
    def get_credential_cls() -> type[SignalExchangeCredentials]:
        return SignalExchangeCredentials

    @classmethod
    def for_collab(
        cls,
        collab: SignalExchangeCollabConfig,
        credentials: SignalExchangeCredentials | None = None,
    ) -> "SignalExchangeSignalExchangeAPI":
        """Load the credentials directory (given, or from $SIGX_CREDENTIALS or ~/.sigx_credentials)."""
        creds = credentials or SignalExchangeCredentials.get(cls)
        return cls(collab, creds.credentials_dir)

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def client(self) -> ExchangeClient:
        if self._client is None:
            self._client = ExchangeClient.connect(self.collab.server or None, credentials=self.credentials)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _index(self) -> SignalIndex:
        folder = Path(self.collab.state_dir).expanduser() if self.collab.state_dir else self.credentials_dir
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", self.collab.name) or "default"
        owner = f"{self.credentials.member_id}@{hashlib.sha256(self.credentials.ca_pem).hexdigest()}"
        return SignalIndex(folder / f"pytx-{name}.sqlite3", owner)

    def _wanted(self, event: Event) -> bool:
        signal = event.signal
        if signal is None or not self.collab.audiences:
            return True
        return (signal.audience or "all-members") in self.collab.audiences

    # -- fetch -------------------------------------------------------------------------------

    def fetch_iter(
        self,
        supported_signal_types: t.Sequence[type[signal_base.SignalType]],
        checkpoint: SignalExchangeCheckpoint | None,
    ) -> t.Iterator[state.FetchDelta[tuple[str, str], SignalExchangeSignalMetadata, SignalExchangeCheckpoint]]:
        """Every change after ``checkpoint``, one FetchDelta per page of events, in log order; first a
        delta for the signals that expired since the last fetch, if any."""
        supported = {s.get_name() for s in supported_signal_types}
        index = self._index()
        try:
            now = int(self._clock())
            done = checkpoint or SignalExchangeCheckpoint(expired_through=now)
            if checkpoint is None:
                index.reset()
            elif index.seen_seq < checkpoint.seq:
                self._replay(index, index.seen_seq, checkpoint.seq)
            expired = index.expired_keys(done.expired_through, now)
            if expired or (checkpoint is not None and done.expired_through < now):
                done = SignalExchangeCheckpoint(done.cursor, done.event_time, now)
                if expired:
                    yield state.FetchDelta(self._records(index, expired, now, supported), done)
            events = self.client.pull(
                done.cursor or None, categories=sorted(self.collab.categories), verify=self.collab.verify_signatures
            )
            pages = ReadAhead(events, self._page_size)  # the next page is read while this one is indexed
            try:
                for page in pages:
                    done = self._checkpoint(done, page)
                    yield state.FetchDelta(self._apply(index, page, supported), done)
            finally:
                pages.close()
        finally:
            index.close()

    @staticmethod
    def _checkpoint(previous: SignalExchangeCheckpoint, page: t.Sequence[Event]) -> SignalExchangeCheckpoint:
        last = page[-1]
        return SignalExchangeCheckpoint(
            last.cursor, max(previous.event_time, last.received_at), previous.expired_through
        )

    def _replay(self, index: SignalIndex, after: int, through: int) -> None:
        """Bring the index up to ``through`` (it fell behind the checkpoint), yielding nothing."""
        page: list[Event] = []
        for event in self.client.pull(
            f"c1.{after}" if after else None,
            categories=sorted(self.collab.categories),
            verify=self.collab.verify_signatures,
        ):
            if event.seq > through:
                break
            page.append(event)
            if len(page) >= self._page_size:
                self._record(index, page)
                page = []
        self._record(index, page, through)

    def _record(self, index: SignalIndex, page: t.Sequence[Event], seen: int = 0) -> tuple[set[int], dict[int, str]]:
        """Apply a page of events to the index; the signal ids it touched, and the value key of
        those it submitted (the others' keys are in the index)."""
        submits: list[IndexedSignal] = []
        retracts: list[tuple[int, int]] = []
        feedback: list[tuple[int, int, str, str]] = []
        touched: set[int] = set()
        for event in page:
            if event.kind == "submit" and event.signal is not None:
                if not self._wanted(event):
                    continue
                s = event.signal
                submits.append(
                    IndexedSignal(
                        s.signal_id,
                        signal_key(s.type, s.value),
                        s.submitter,
                        s.category,
                        s.confidence,
                        s.labels,
                        s.expires_at or NO_EXPIRY,
                    )
                )
            elif event.kind == "retract":
                retracts.append((event.signal_id, event.seq))
            elif event.kind == "feedback":
                feedback.append((event.seq, event.signal_id, event.submitter, event.verdict))
            else:
                continue
            touched.add(event.signal_id)
        index.apply(submits, retracts, feedback, max(seen, page[-1].seq if page else 0))
        return touched, {s.signal_id: s.key for s in submits}

    def _apply(self, index: SignalIndex, page: t.Sequence[Event], supported: set[str]) -> Updates:
        touched, keys_known = self._record(index, page)
        keys = sorted(set(index.keys_of(sorted(touched - keys_known.keys())).values()) | set(keys_known.values()))
        return self._records(index, keys, int(self._clock()), supported)

    def _records(self, index: SignalIndex, keys: t.Sequence[str], now: int, supported: set[str]) -> Updates:
        """The current record of each value key (None: nothing active on it), under its pytx keys."""
        live = index.live(keys, now)
        feedback = index.feedback_of([s[0] for signals in live.values() for s in signals])
        me = self.credentials.member_id
        updates: Updates = {}
        for key in keys:
            sdk_type, _, hexed = key.partition(":")
            names = [name for name in _PYTX_NAMES.get(sdk_type, ()) if name in supported]
            if not names:
                continue
            record = None
            signals = live.get(key)
            if signals:
                entries = []
                for signal_id, submitter, category, confidence, labels, expires_at in signals:
                    counts: dict[str, int] = {}
                    mine = []
                    for who, verdict in feedback.get(signal_id, ()):
                        counts[verdict] = counts.get(verdict, 0) + 1
                        if who == me:
                            mine.append(verdict)
                    entries.append(
                        SharedSignalEntry(
                            signal_id, submitter, category, confidence, list(labels), expires_at, counts, mine
                        )
                    )
                record = SignalExchangeSignalMetadata(me, entries)
            for name in names:
                updates[(name, hexed)] = record
        return updates

    # -- opinions -----------------------------------------------------------------------------

    def report_opinion(self, s_type: type[signal_base.SignalType], signal: str, opinion: state.SignalOpinion) -> None:
        """Signed feedback on every other member's active signal of this value. The verdict is the
        first of the opinion's tags that names one (confirmed, actioned, false_positive, not_found,
        duplicate), else POSITIVE_CLASS: confirmed, NEGATIVE_CLASS: false_positive,
        INVESTIGATION_SEED: not_found. Raises ValueError for a type this exchange does not carry or a
        value no other member shares (and the SDK's errors for what the exchange refuses)."""
        sdk_type = _SDK_TYPE.get(s_type.get_name())
        if sdk_type is None:
            raise ValueError(f"signal type {s_type.get_name()} is not shared on this exchange")
        value = bytes.fromhex(s_type.validate_signal_str(signal))
        verdict = next((v for v in sorted(opinion.tags) if v in VERDICTS), _OPINION_VERDICT[opinion.category])
        [result] = self.client.lookup([(sdk_type, value)], max_distance=0 if sdk_type == "media_pdq" else None)
        others = [m for m in result.matches if m.submitter != self.credentials.member_id]
        if not others:
            raise ValueError(f"no other member shares an active {s_type.get_name()} signal of this value")
        for match in others:
            self.client.feedback(match.signal_id, verdict)


TX_MANIFEST = ThreatExchangeExtensionManifest(
    signal_types=(SigxPhotoMD5Signal, *PSEUDONYM_SIGNALS),
    apis=(SignalExchangeSignalExchangeAPI,),
)
