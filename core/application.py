"""The application service: one entry point for every command, whatever adapter sends it.

It routes a command to its aggregate's decider, performs the look-ups a pure decider cannot
(does the named party exist? is this officer registered?), stamps the time from the clock (only
an importer may backfill it) and hands over to the `CommandHandler`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Sequence

from core import parties
from core.agreements import agreement as agreements
from core.decider import Decider
from core.errors import Forbidden, Invalid, NotFound
from core.hotline import calls, check_calls, explanations, messages
from core.hotline.channel import Binding
from core.identity import Principal, Role
from core.incidents import commands as incident_commands
from core.incidents.decider import DECIDER as INCIDENTS
from core.inspections import commands as inspection_commands, notifications
from core.inspections.context import with_quota
from core.inspections.decider import DECIDER as INSPECTIONS
from core.inspections.ledger import StreamLedger
from core.ports import AggregateRef, Clock, EventStore, QuotaLedger, StateSource
from core.service import CommandHandler, Envelope, Outcome, new_event_id

if TYPE_CHECKING:
    from core.integrity.client_signing import ClientSigning

#: How far ahead of the server clock a backfilled time may be (clock skew between machines).
FUTURE_SKEW = timedelta(minutes=5)


def route(command: Any) -> tuple[Decider[Any, Any], str]:
    """The decider and aggregate id a command addresses."""
    match command:
        case parties.RegisterParty():
            return parties.DECIDER, command.code
        case parties.RegisterOfficer():
            return parties.DECIDER, command.party
        case incident_commands._IncidentCommand():
            return INCIDENTS, command.incident_id
        case agreements._AgreementCommand():
            return agreements.DECIDER, command.agreement_id
        case messages._MessageCommand():
            return messages.DECIDER, command.message_id
        case check_calls.AnswerCheckCall() | check_calls.RecordCheckCallMissed():
            return check_calls.DECIDER, command.slot.id
        case calls._CallCommand():
            return calls.DECIDER, command.request_id
        case explanations._ExplanationCommand():
            return explanations.DECIDER, command.request_id
        case inspection_commands._InspectionCommand():
            return INSPECTIONS, command.inspection_id
        case notifications._NotificationCommand():
            return notifications.DECIDER, command.notification_id
    raise Invalid(f"no aggregate handles {type(command).__name__}")


class Application:
    def __init__(self, *, store: EventStore, clock: Clock, new_id: Callable[[], str] = new_event_id,
                 ledger: QuotaLedger | None = None, states: StateSource | None = None) -> None:
        self.store = store
        #: Quota use for inspection replies (folded from the store unless a read model is given).
        self.ledger: QuotaLedger = ledger or StreamLedger(store)
        self.clock = clock
        self.new_id = new_id
        #: `states`: where a command on an aggregate not cached here may start (the read models).
        self.handler = CommandHandler(store=store, new_id=new_id, states=states)
        self._known_parties: set[str] = set()

    def time_for(self, principal: Principal, supplied: datetime | None) -> tuple[datetime, bool]:
        """The business time of a command and whether it is backfilled.

        Live commands take the server clock; only an importer may state a historical time, and
        the events then say `backfilled`.
        """
        now = self.clock.now()
        if supplied is None:
            return now, False
        if principal.role is not Role.IMPORTER:
            raise Forbidden("only an importer may set the time of a fact; leave `time` out")
        if supplied.tzinfo is None:
            raise Invalid("the time must include a time zone (e.g. 2024-05-01T10:00:00Z)")
        if supplied - now > FUTURE_SKEW:
            raise Invalid("a backfilled time cannot be in the future")
        return supplied, True

    async def party_exists(self, code: str) -> bool:
        if code in self._known_parties:
            return True
        found = await self.store.last_subject_seq(AggregateRef(type=parties.AGGREGATE, id=code)) > 0
        if found:
            self._known_parties.add(code)
        return found

    async def require_parties(self, codes: Sequence[str]) -> None:
        missing = [code for code in dict.fromkeys(codes) if not await self.party_exists(code)]
        if missing:
            raise Invalid(f"unknown part{'y' if len(missing) == 1 else 'ies'}: {', '.join(missing)}; register {'it' if len(missing) == 1 else 'them'} first")

    async def officer(self, party: str, officer_id: str) -> str:
        """The officer's registered name; NotFound when the party has no such officer."""
        loaded = await self.handler.load(parties.DECIDER, party, fresh=True)
        state: parties.Party | None = loaded.state
        if state is None:
            raise NotFound(f"party {party} is not registered")
        if officer_id not in state.officers:
            raise NotFound(f"party {party} has no officer {officer_id}")
        return state.officers[officer_id]

    async def execute(
        self,
        command: Any,
        *,
        expected_seq: int | None = None,
        event_ids: Sequence[str] = (),
        envelope: Envelope = Envelope(),
        retrying: bool = False,
        signing: ClientSigning | None = None,
    ) -> Outcome:
        """Route `command`, look up what its decider needs, execute it (`CommandHandler.execute`;
        `signing`: a client signs its events, `core.integrity.client_signing`)."""
        decider, aggregate_id = route(command)
        if isinstance(command, incident_commands.ReportIncident):
            await self.require_parties([command.by.acting_party(), *command.parties])
        elif isinstance(command, agreements.ConcludeAgreement):
            await self.require_parties(command.parties)
        command = await self._bind(command)
        command = await with_quota(command, ledger=self.ledger, visit=lambda i: self.state_of(INSPECTIONS, i))
        return await self.handler.execute(
            decider, aggregate_id, command, expected_seq=expected_seq, event_ids=event_ids,
            envelope=envelope, retrying=retrying, signing=signing,
        )

    async def agreement(self, agreement_id: str) -> agreements.Agreement:
        """The agreement as it is now (read fresh: terms must never come from a stale cache)."""
        state = (await self.handler.load(agreements.DECIDER, agreement_id, fresh=True)).state
        if state is None:
            raise NotFound(f"agreement {agreement_id} does not exist")
        return state

    async def _bind(self, command: Any) -> Any:
        """Fill a hotline command's `binding`: the agreement's parties, contacts and the terms
        version in force at the command's time (deciders are pure and cannot look it up)."""
        if not hasattr(command, "binding") or command.binding is not None:
            return command
        agreement_id = getattr(command, "agreement_id", None)
        if agreement_id is None:  # a command on an existing record: its agreement is in its state
            decider, aggregate_id = route(command)
            state = (await self.handler.load(decider, aggregate_id)).state
            if state is None:
                return command  # the decider reports it missing
            agreement_id = state.agreement_id
        try:
            found = await self.agreement(agreement_id)
        except NotFound:
            if command.by.party is None:
                raise
            raise NotFound(f"agreement {agreement_id} does not exist or does not bind your party {command.by.party}") from None
        return replace(command, binding=Binding.of(found, at=command.at))

    async def state_of(self, decider: Decider[Any, Any], aggregate_id: str) -> Any:
        return (await self.handler.load(decider, aggregate_id)).state


def stamped(command: Any, at: datetime) -> Any:
    return replace(command, at=at)
