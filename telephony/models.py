"""What Switchboard persists about telephony: call history, the extension
directory with the call queues' members, and the supervisors' command audit.

Live call state is never read from here: the worker's in-memory model is the
source of truth for what is happening now (telephony.live.model). History is
written behind it, in batches (telephony.history.writer), and is evidence: the
admin shows it read-only.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.utils import timezone

from telephony.audit import GENESIS, row_digest

# The live floor's permissions (telephony.<codename>); the groups Viewer,
# Supervisor and Administrator hold them (migration 0007, docs/security.md
# "Roles"). Each action of telephony.actions names the one it needs.
FLOOR_PERMISSIONS = (
    ("view_floor", "Can watch the live floor"),
    ("hold_calls", "Can hold and unhold live calls"),
    ("mute_calls", "Can mute and unmute live calls"),
    ("record_calls", "Can start, pause and resume recording live calls"),
    ("transfer_calls", "Can transfer live calls"),
    ("listen_calls", "Can listen in on live calls"),
    ("end_calls", "Can end live calls"),
    ("acknowledge_alerts", "Can acknowledge the floor's alerts"),
)


class Floor(models.Model):
    """No table: the holder of the live floor's permissions, so that the
    admin lists them as "telephony | live floor | Can ..."."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = FLOOR_PERMISSIONS
        verbose_name = "live floor"

    def __str__(self) -> str:
        return "live floor"


class AuditAppendOnly(PermissionDenied):
    """The command audit is append-only: no row is changed or deleted
    (a view that lets this through answers 403)."""


class CommandAuditQuerySet(models.QuerySet["CommandAudit"]):
    """Reads as usual; bulk writes refused (the chain is built row by row
    in `CommandAudit.save`)."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditAppendOnly("The command audit is append-only: no update.")

    def delete(self) -> NoReturn:
        raise AuditAppendOnly("The command audit is append-only: no delete.")

    def bulk_create(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditAppendOnly("Audit rows are chained one by one: use create().")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditAppendOnly("The command audit is append-only: no update.")


class AuditChainHead(models.Model):
    """One row (id 1): the last audit row's id and hash. Appending locks it
    (PostgreSQL: SELECT ... FOR UPDATE; SQLite's IMMEDIATE transactions
    already let one writer in at a time), so two writers never chain to
    the same row; and `verify_audit` compares the chain's end with it,
    which catches deleted last rows."""

    last_id = models.BigIntegerField(null=True)
    last_hash = models.CharField(max_length=64, default=GENESIS)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"audit chain head: #{self.last_id}"


class CommandAudit(models.Model):
    """One supervisor command and what RingCentral answered.

    The user is kept twice: as a reference (`user`, which survives a
    rename) and as the username at the time (`username`, which survives the
    user's deletion: no database constraint, so deleting a user changes no
    row). `params` are the command's own (a transfer's destination, a
    recording's id).

    Append-only and chained (telephony.audit): `row_hash` covers the row
    and `prev_hash`, the previous row's `row_hash`. A row is never changed
    or deleted through Django; `manage.py verify_audit` catches an edit
    made in the database itself."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted"
        REJECTED = "rejected"
        FAILED = "failed"  # RingCentral unreachable: not carried out
        UNKNOWN = "unknown"  # sent, but no answer in time: may have worked

    # Set before saving (not auto_now_add, which stamps after): it is hashed.
    requested_at = models.DateTimeField(
        default=timezone.now, editable=False, db_index=True
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    username = models.CharField("username at the time", max_length=150)
    action = models.CharField(max_length=32)
    telephony_session_id = models.CharField(max_length=100, db_index=True)
    party_id = models.CharField(max_length=100)
    params = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    message = models.CharField(max_length=500, blank=True)
    prev_hash = models.CharField(max_length=64, editable=False, default="")
    row_hash = models.CharField(max_length=64, editable=False, default="")

    objects = CommandAuditQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return (
            f"{self.username} {self.action} {self.telephony_session_id}: {self.outcome}"
        )

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Append this new row to the chain; an existing row is refused."""
        if not self._state.adding:
            raise AuditAppendOnly("The command audit is append-only: no update.")
        with transaction.atomic():
            head = _audit_head_locked()
            # The id is the chain's next, given under the lock: it is
            # hashed, so it must be known before the insert.
            self.id = (head.last_id or 0) + 1
            self.prev_hash = head.last_hash
            self.row_hash = row_digest(self)
            kwargs["force_insert"] = True
            super().save(*args, **kwargs)
            head.last_id, head.last_hash = self.id, self.row_hash
            head.save(update_fields=["last_id", "last_hash"])

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditAppendOnly("The command audit is append-only: no delete.")


def _audit_head_locked() -> AuditChainHead:
    """The chain head, locked until the transaction ends; made from the
    last row if missing (a flushed test database)."""
    heads = AuditChainHead.objects.select_for_update()
    head = heads.filter(pk=1).first()
    if head is None:
        last = CommandAudit.objects.order_by("-pk").values("pk", "row_hash").first()
        start = AuditChainHead(
            pk=1,
            last_id=last["pk"] if last else None,
            last_hash=last["row_hash"] if last else GENESIS,
        )
        # Two first writers: one insert wins, the other waits for it.
        AuditChainHead.objects.bulk_create([start], ignore_conflicts=True)
        head = heads.get(pk=1)
    return head


class CallRecord(models.Model):
    """One telephony session from first sight to its end (upserted by id).

    Durations are in seconds: `ring_seconds` from the start to the answer
    (or to the end when nobody answered: IVR and queue time included),
    `talk_seconds` from the answer to the end minus `hold_seconds`.
    """

    class Result(models.TextChoices):
        IN_PROGRESS = "in_progress", "in progress"
        ANSWERED = "answered"
        MISSED = "missed"  # nobody answered and the caller did not give up
        ABANDONED = "abandoned"  # the caller hung up while it rang
        NO_ANSWER = "no_answer", "no answer"  # outbound, never answered
        VOICEMAIL = "voicemail"
        TRANSFERRED = "transferred"
        LOST = "lost"  # ended while the worker was not watching

    telephony_session_id = models.CharField(max_length=100, unique=True)
    session_id = models.CharField("legacy session id", max_length=64, blank=True)
    origin = models.CharField(max_length=32, blank=True)
    direction = models.CharField(max_length=16, blank=True)
    started_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ring_seconds = models.FloatField(default=0.0)
    talk_seconds = models.FloatField(default=0.0)
    hold_seconds = models.FloatField(default=0.0)
    hold_count = models.PositiveIntegerField(default=0)
    agent_extension_id = models.CharField(max_length=32, blank=True)
    agent_name = models.CharField(max_length=200, blank=True)
    agent_number = models.CharField(max_length=64, blank=True)
    customer_number = models.CharField(max_length=64, blank=True)
    customer_name = models.CharField(max_length=200, blank=True)
    queue_name = models.CharField(max_length=200, blank=True)
    queue_extension_id = models.CharField(max_length=32, blank=True, db_index=True)
    recordings = models.JSONField(default=list, blank=True)
    result = models.CharField(
        max_length=16, choices=Result.choices, default=Result.IN_PROGRESS
    )
    final_reason = models.CharField(max_length=64, blank=True)
    last_seen_at = models.DateTimeField()
    ended = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["started_at"], name="callrecord_started"),
            models.Index(
                fields=["agent_extension_id", "started_at"], name="callrecord_agent"
            ),
            models.Index(fields=["result", "started_at"], name="callrecord_result"),
            # call_history_close_missing scans the rows still open.
            models.Index(
                fields=["ended"],
                name="callrecord_open",
                condition=models.Q(ended=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.telephony_session_id} ({self.result})"


class PartyRecord(models.Model):
    """One party (leg) of a recorded call: how it started and ended."""

    call = models.ForeignKey(
        CallRecord, on_delete=models.CASCADE, related_name="parties"
    )
    party_id = models.CharField(max_length=120)
    extension_id = models.CharField(max_length=32, blank=True)
    direction = models.CharField(max_length=16, blank=True)
    from_number = models.CharField(max_length=64, blank=True)
    from_name = models.CharField(max_length=200, blank=True)
    to_number = models.CharField(max_length=64, blank=True)
    to_name = models.CharField(max_length=200, blank=True)
    first_status = models.CharField(max_length=32, blank=True)
    first_seen_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField("last status", max_length=32, blank=True)
    reason = models.CharField("last reason", max_length=64, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    muted_ever = models.BooleanField(default=False)
    missed_call = models.BooleanField(default=False)
    queue_call = models.BooleanField(default=False)

    class Meta:
        ordering = ["call", "first_seen_at", "party_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["call", "party_id"], name="partyrecord_unique_party"
            )
        ]

    def __str__(self) -> str:
        return f"{self.party_id} {self.status}"


class Extension(models.Model):
    """One extension of the account, from RingCentral's extension list."""

    extension_id = models.CharField(max_length=32, unique=True)
    extension_number = models.CharField(max_length=16, blank=True, db_index=True)
    name = models.CharField(max_length=200, blank=True)
    # User, Department (a call queue), IvrMenu, ParkLocation, ...
    type = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=32, blank=True)
    email = models.CharField(max_length=254, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["extension_number", "extension_id"]

    def __str__(self) -> str:
        return f"{self.extension_number} {self.name}".strip()


class QueueMember(models.Model):
    """One extension's membership of one call queue, from RingCentral's
    call-queue member lists (docs/ringcentral.md 8.6). Replaced as a whole
    at every directory refresh (`services.queue_members_replace`); ids are
    extension ids as in `Extension` (no foreign key: the directory is
    replaced on its own schedule)."""

    queue_extension_id = models.CharField("queue", max_length=32)
    member_extension_id = models.CharField("member", max_length=32, db_index=True)

    class Meta:
        ordering = ["queue_extension_id", "member_extension_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["queue_extension_id", "member_extension_id"],
                name="queuemember_unique_member",
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_extension_id} in {self.queue_extension_id}"


class QueueSettings(models.Model):
    """Thresholds of one call queue's alerts and service level; the row with
    no queue holds the defaults for every queue without a row of its own.
    Edited by administrators in the admin; the worker reads them every
    30 s (telephony.worker.alerts)."""

    queue_extension_id = models.CharField(
        "queue",
        max_length=32,
        blank=True,
        unique=True,
        help_text="The call queue's extension id; blank: the defaults for all.",
    )
    queue_name = models.CharField(max_length=200, blank=True, editable=False)
    service_level_seconds = models.PositiveIntegerField(
        default=20,
        help_text="A call answered within this wait counts as in service level.",
    )
    service_level_target = models.PositiveSmallIntegerField(
        default=80, help_text="Percent of today's offered calls; below it: an alert."
    )
    long_ring_seconds = models.PositiveIntegerField(
        default=30, help_text="A call ringing an agent longer: an alert."
    )
    long_wait_seconds = models.PositiveIntegerField(
        default=60, help_text="A caller waiting in the queue longer: an alert."
    )
    long_hold_seconds = models.PositiveIntegerField(
        default=120, help_text="A caller on hold longer: an alert."
    )
    long_talk_seconds = models.PositiveIntegerField(
        default=900, help_text="A call talking longer: an alert."
    )
    dnd_too_long_seconds = models.PositiveIntegerField(
        default=1800, help_text="An agent on Do Not Disturb longer: an alert."
    )

    class Meta:
        verbose_name = "queue settings"
        verbose_name_plural = "queue settings"
        ordering = ["queue_extension_id"]

    def __str__(self) -> str:
        return self.queue_name or self.queue_extension_id or "Defaults (every queue)"


class CallEvent(models.Model):
    """One change of one live call as the worker published it to the
    consoles (the call's whole state after the change): the journal that
    call timelines and floor replay read. Written in batches behind the
    live path (telephony.history.journal); purged after the retention
    period (`manage.py purge_history`)."""

    at = models.DateTimeField(db_index=True)
    telephony_session_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=8)  # "updated" or "ended"
    call = models.JSONField()  # telephony.live.views.CallView

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(
                fields=["telephony_session_id", "at"], name="callevent_session"
            )
        ]

    def __str__(self) -> str:
        return f"{self.telephony_session_id} {self.kind} at {self.at}"


class FloorMark(models.Model):
    """The live floor at one moment, by reference: the id of each live
    call's latest CallEvent. Taken every minute, so a replay starts from
    the mark before its time plus at most a minute of events."""

    at = models.DateTimeField(db_index=True)
    events = models.JSONField(default=list)  # CallEvent ids

    class Meta:
        ordering = ["at"]

    def __str__(self) -> str:
        return f"floor of {len(self.events)} calls at {self.at}"
