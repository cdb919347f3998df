from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import connection, models
from django.db.models.functions import Coalesce, Lower

from adbot_admin.field_encryption import EncryptedTextField

API_ID_MAX = 2**31 - 1
API_HASH_LENGTH = 32
# Shown in lists: the first and last four characters, the rest starred (same length).
API_HASH_SHOWN = 4


class Library(models.TextChoices):
    TELETHON = "telethon", "Telethon"
    PYROGRAM = "pyrogram", "Pyrogram"


class SessionStatus(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    ACTIVE = "active", "Active"
    LIMITED = "limited", "Limited (spam)"
    FROZEN = "frozen", "Frozen"
    BANNED = "banned", "Banned"
    REVOKED = "revoked", "Revoked (the auth key is dead)"
    DEACTIVATED = "deactivated", "Deactivated"


# The statuses that end at a time (`until`); the others have none.
STATUSES_WITH_UNTIL = frozenset({SessionStatus.LIMITED, SessionStatus.FROZEN})


class SessionFileQuerySet(models.QuerySet):
    def with_api_pair(self):
        """Annotate `api_pair_id`: the stored API pair whose api_id the session has, or None."""
        pairs = ApiPair.objects.filter(api_id=models.OuterRef("api_id")).values("pk")[:1]
        return self.annotate(api_pair_id=models.Subquery(pairs))


class SessionFile(models.Model):
    """One Telegram session file in SESSIONS_DIR, as inspected when it was stored.

    The row holds metadata only: the auth key never leaves the file.
    """

    filename = models.CharField(max_length=100, unique=True)
    library = models.CharField(max_length=16, choices=Library.choices, db_index=True)
    layout = models.CharField(max_length=32, help_text="The library version whose file layout matched.")
    dc_id = models.PositiveSmallIntegerField(db_index=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    is_bot = models.BooleanField(null=True, blank=True)
    api_id = models.PositiveIntegerField(
        null=True,
        blank=True,
        db_index=True,
        validators=[MinValueValidator(1), MaxValueValidator(API_ID_MAX)],
        help_text="The Telegram app the session belongs to: read from the file, or set by an admin.",
    )
    api_id_in_file = models.BooleanField(
        default=False, help_text="The file itself records api_id (Pyrogram family), so it cannot be changed here."
    )
    size = models.PositiveBigIntegerField(help_text="Bytes.")
    sha256 = models.CharField(max_length=64)
    auth_key_sha256 = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="SHA-256 of the auth key (hex), to find two files holding one key; never the key itself.",
    )
    uploaded_at = models.DateTimeField(db_index=True)
    uploaded_by = models.CharField(max_length=255)
    # Leases (sessions_admin/leases.py): the last fence handed out (NULL: never leased), never reused, and
    # until when the account is taken; NULL or past means free, so an expired lease frees it with no job.
    # Both nullable without a default, so SQLite adds them in place: remaking the table would drop the
    # count triggers of migrations 0005 and 0006.
    lease_fence = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    # The account, as its sidecar claims it (docs/sidecar.md); user_id above comes from the file when it has one.
    phone = models.CharField(max_length=20, blank=True, db_index=True)
    username = models.CharField(max_length=32, blank=True, db_index=True)
    first_name = models.CharField(max_length=64, blank=True)
    last_name = models.CharField(max_length=64, blank=True)
    # The sidecar's device and app keys (device, sdk, app_version, lang_pack, ...), canonical names.
    device = models.JSONField(default=dict, blank=True)
    # The proxy without its credentials: {type, host, port, rdns}; null for none.
    proxy = models.JSONField(null=True, blank=True)
    # Secrets (adbot_admin/field_encryption.py): never decrypted on load.
    twofa_password = EncryptedTextField()
    proxy_credentials = EncryptedTextField(help_text='JSON {"username", "password"}, encrypted.')
    # The sidecar's other canonical values and its unknown keys, so an export gives back what came in.
    sidecar_extra = models.JSONField(default=dict, blank=True)

    status = models.CharField(
        max_length=16, choices=SessionStatus.choices, default=SessionStatus.UNKNOWN, db_index=True
    )
    status_reason = models.CharField(max_length=255, blank=True)
    status_until = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    objects = SessionFileQuerySet.as_manager()

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        # The list's order, so a page is read off the index at any table size.
        indexes = [
            models.Index(fields=["uploaded_at", "id"], name="sessions_file_list_order"),
            # Names equal apart from letter case are one file on a case-insensitive filesystem.
            models.Index(Lower("filename"), name="sessions_file_name_lower"),
        ]

    def __str__(self):
        return self.filename

    @property
    def api_pair(self):
        """Return the id of the stored API pair with this session's api_id, or None."""
        if hasattr(self, "api_pair_id"):
            return self.api_pair_id
        if self.api_id is None:
            return None
        return ApiPair.objects.filter(api_id=self.api_id).values_list("pk", flat=True).first()


class SessionStatusChange(models.Model):
    """One change of a session's status: the ledger behind `status`, append-only."""

    session_file = models.ForeignKey(SessionFile, on_delete=models.CASCADE, related_name="status_changes")
    status = models.CharField(max_length=16, choices=SessionStatus.choices)
    previous_status = models.CharField(max_length=16, choices=SessionStatus.choices)
    reason = models.CharField(max_length=255, blank=True)
    until = models.DateTimeField(null=True, blank=True)
    # `import`, `admin` or `engine:<token name>`.
    source = models.CharField(max_length=100)
    changed_by = models.CharField(max_length=255, blank=True)
    changed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["session_file", "changed_at", "id"], name="sessions_status_history")]

    def __str__(self):
        return f"{self.session_file_id}: {self.previous_status} -> {self.status}"


class SessionCount(models.Model):
    """How many sessions have each status, library, dc_id and api_id.

    Kept by database triggers on the session table (migration 0005), so every
    write, whatever its path, moves the counts in the same transaction, and
    the summary reads a few rows whatever the table's size.
    """

    dimension = models.CharField(max_length=16)
    value = models.CharField(max_length=32, blank=True, help_text="Empty for a session without an api_id.")
    count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["dimension", "value"]
        constraints = [models.UniqueConstraint(fields=["dimension", "value"], name="sessions_count_unique")]

    def __str__(self):
        return f"{self.dimension}={self.value}: {self.count}"


class SessionListRevision(models.Model):
    """The session list's order revision: one row, moved by database triggers (migration 0007) in the same
    transaction as every write that adds a session, removes one or changes its uploaded_at."""

    revision = models.BigIntegerField(default=0)
    # When the revision last moved, in whole seconds of the database's clock (Unix time).
    moved_at = models.BigIntegerField(default=0)


class SessionListAnchor(models.Model):
    """The (uploaded_at, id) of every ANCHOR_SPACING-th row of the session list, newest first, at one revision.

    Derived rows: a numbered page deep in the list reads the anchor at or above it (only when its revision is
    the current one) and walks at most the spacing from there, not every row above it. A list write's trigger
    empties the table; a deep page rebuilds it once the list has been still for a while
    (sessions_admin/api/pagination.py).
    """

    revision = models.BigIntegerField()
    position = models.BigIntegerField()
    uploaded_at = models.DateTimeField()
    session_id = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["revision", "position"], name="sessions_list_anchor_unique")]


class ApiPairQuerySet(models.QuerySet):
    def with_sessions_count(self):
        """Annotate `sessions_count`: how many session files have the pair's api_id."""
        sessions = (
            SessionFile.objects.filter(api_id=models.OuterRef("api_id"))
            .order_by()
            .values("api_id")
            .annotate(count=models.Count("pk"))
            .values("count")
        )
        return self.annotate(sessions_count=Coalesce(models.Subquery(sessions), 0))

    @staticmethod
    def page_sql():
        """Return (SQL, names) of a page of every pair with_sessions_count(), in the model's order, its parameters
        LIMIT and OFFSET; or None where the annotation's own SQL costs no more (SQLite).

        The counts are one count of the sessions of the page's api_ids, grouped
        by api_id. The annotation's subquery runs once per row, and on a small
        session table PostgreSQL's planner makes that a scan of the whole table
        per row; on a large one it reads each session row, where this reads the
        api_id index only. SQLite's planner probes the index per row, and
        answers this statement more slowly.
        """
        if connection.vendor != "postgresql":
            return None
        quote = connection.ops.quote_name
        table, sessions = (quote(model._meta.db_table) for model in (ApiPair, SessionFile))
        names = tuple(field.attname for field in ApiPair._meta.concrete_fields)
        columns = ", ".join(f"page.{quote(ApiPair._meta.get_field(name).column)}" for name in names)
        order = [
            f"{quote(ApiPair._meta.get_field(name.lstrip('-')).column)} {'DESC' if name.startswith('-') else 'ASC'}"
            for name in ApiPair._meta.ordering
        ]
        pair_api_id = quote(ApiPair._meta.get_field("api_id").column)
        api_id = quote(SessionFile._meta.get_field("api_id").column)
        sql = (
            f"WITH page AS (SELECT * FROM {table} ORDER BY {', '.join(order)} LIMIT %s OFFSET %s) "
            f"SELECT {columns}, COALESCE(counts.n, 0) FROM page LEFT JOIN (SELECT s.{api_id}, COUNT(*) AS n "
            f"FROM {sessions} s WHERE s.{api_id} IN (SELECT {pair_api_id} FROM page) GROUP BY s.{api_id}) counts "
            f"ON counts.{api_id} = page.{pair_api_id} ORDER BY {', '.join(f'page.{term}' for term in order)}"
        )
        return sql, (*names, "sessions_count")


class ApiPair(models.Model):
    """A Telegram api_id/api_hash pair the engine may use; the hash is a credential."""

    api_id = models.PositiveIntegerField(unique=True, validators=[MinValueValidator(1), MaxValueValidator(API_ID_MAX)])
    api_hash = models.CharField(
        max_length=API_HASH_LENGTH,
        validators=[RegexValidator(r"\A[0-9a-f]{32}\Z", "An api_hash is 32 lower-case hexadecimal characters.")],
    )
    label = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ApiPairQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at", "id"], name="sessions_api_pair_list_order")]
        verbose_name = "API pair"

    def __str__(self):
        return f"api_id {self.api_id}" + (f" ({self.label})" if self.label else "")

    def count_sessions(self) -> int:
        """Return how many session files have this pair's api_id (the annotation when present)."""
        if hasattr(self, "sessions_count"):
            return self.sessions_count
        return SessionFile.objects.filter(api_id=self.api_id).count()

    @property
    def masked_hash(self):
        """Return the hash with all but its first and last API_HASH_SHOWN characters replaced by `*`."""
        value = self.api_hash or ""
        if len(value) <= 2 * API_HASH_SHOWN:
            return "*" * len(value)
        return value[:API_HASH_SHOWN] + "*" * (len(value) - 2 * API_HASH_SHOWN) + value[-API_HASH_SHOWN:]


class Lease(models.Model):
    """One grant of an account to an engine: live until released, broken or past `expires_at`.

    `fence` is the account's lease_fence when it was granted; a write carrying
    an older fence comes from a holder that lost the account.
    """

    session = models.ForeignKey(SessionFile, on_delete=models.CASCADE, related_name="leases")
    fence = models.PositiveBigIntegerField()
    token = models.ForeignKey("adbot_admin.ServiceToken", on_delete=models.CASCADE, related_name="leases")
    holder = models.CharField(max_length=100, help_text="The service token's name.")
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["-granted_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["session", "fence"], name="sessions_lease_fence_once")]
        indexes = [models.Index(fields=["ended_at", "expires_at"], name="sessions_lease_live")]

    def __str__(self):
        return f"lease {self.pk} of {self.session_id} (fence {self.fence}) by {self.holder}"

    def is_live(self, now):
        return self.ended_at is None and self.expires_at > now
