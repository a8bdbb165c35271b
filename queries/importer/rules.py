"""The importer's rule ids: stable names for every way input can be wrong.

Why stable ids: a quarantined row carries them (`quarantine.rules`), tests pin them, users filter
and count by them, and the data-quality page groups by them. Messages may be reworded; ids may
not change. File-level rules reject a whole file (ImportRejected); row-level rules quarantine
the row with every rule it broke.
"""

from __future__ import annotations

# --- file level: the whole file is refused with a message naming the file -----------------
FILE_EMPTY = "file_empty"
FILE_UNREADABLE = "file_unreadable"
UNKNOWN_TABLE = "unknown_table"
MISSING_COLUMN = "missing_column"
FILE_TOO_LARGE = "file_too_large"  # a workbook beyond the documented row / cell / size limits

# --- row level: the row is quarantined -----------------------------------------------------
FIELD_COUNT = "field_count"  # wrong number of fields on the line (e.g. a truncated last line)
REQUIRED = "required"  # a value the contract requires is empty
BAD_INT = "bad_int"
BAD_TIMESTAMP = "bad_timestamp"
BAD_DATE = "bad_date"
BAD_BOOL = "bad_bool"
BAD_ENUM = "bad_enum"
OUT_OF_RANGE = "out_of_range"  # e.g. review level outside 1–5, online_depth outside 1–4
NEGATIVE_VALUE = "negative_value"  # a limit or count below 0
DUPLICATE_KEY = "duplicate_key"
UNKNOWN_REFERENCE = "unknown_reference"
ACCEPTED_BEFORE_SUBMITTED = "accepted_before_submitted"
COMPLETED_BEFORE_ACCEPTED = "completed_before_accepted"
SUSPENSION_ENDS_BEFORE_START = "suspension_ends_before_start"
COMPLETED_WITHOUT_TIME = "completed_without_completed_at"
COMPLETED_AT_NOT_COMPLETED = "completed_at_but_not_completed"
IN_PROGRESS_WITHOUT_ACCEPTED = "in_progress_without_accepted_at"
PROMISED_OVER_STATUTORY = "promised_exceeds_statutory"
DUE_BEFORE_ACCEPTED = "due_before_accepted"
KEY_CONFLICT = "key_conflict"  # the key is stored for another case (identity fields differ)
REFERENCE_TO_CONFLICT = "reference_to_conflict"  # refers to a row quarantined as key_conflict
IMPLAUSIBLE_DATE = "implausible_date"  # outside the plausible window (default 2000 … now + 1 day)
AMBIGUOUS_YEAR = "ambiguous_year"  # a two-digit year and no year_pivot in the mapping
NUL_CHARACTER = "nul_character"  # a NUL (\x00) in a value: no database stores it as text
TOO_LONG = "too_long"  # longer than the column allows (ids 256, other text 4,000 characters)

ROW_RULES: dict[str, str] = {
    FIELD_COUNT: "the line has a different number of fields than the header",
    REQUIRED: "a required value is empty",
    BAD_INT: "not a whole number",
    BAD_TIMESTAMP: "not a recognised date-time",
    BAD_DATE: "not a recognised date",
    BAD_BOOL: "not a recognised yes/no value (是/否, true/false, 1/0)",
    BAD_ENUM: "not one of the allowed values",
    OUT_OF_RANGE: "outside the allowed range",
    NEGATIVE_VALUE: "negative; limits and counts must be ≥ 0",
    DUPLICATE_KEY: "the key already appeared earlier in this load",
    UNKNOWN_REFERENCE: "refers to a row that is neither in the database nor in this load",
    ACCEPTED_BEFORE_SUBMITTED: "accepted_at is earlier than submitted_at",
    COMPLETED_BEFORE_ACCEPTED: "completed_at is earlier than accepted_at",
    SUSPENSION_ENDS_BEFORE_START: "a suspension ends before it starts",
    COMPLETED_WITHOUT_TIME: "status is completed but completed_at is empty",
    COMPLETED_AT_NOT_COMPLETED: "completed_at is set but status is not completed",
    IN_PROGRESS_WITHOUT_ACCEPTED: "status is in_progress but accepted_at is empty",
    PROMISED_OVER_STATUTORY: "promised_days exceeds statutory_days",
    DUE_BEFORE_ACCEPTED: "due_at is earlier than the acceptance date",
    KEY_CONFLICT: "the key is already stored for a different case (agency, item, submission "
                  "or acceptance time differ); it is not overwritten",
    REFERENCE_TO_CONFLICT: "refers to a row of this load that was quarantined as a key "
                           "conflict, so it would attach to the stored row of another source",
    IMPLAUSIBLE_DATE: "the date lies outside the plausible window",
    AMBIGUOUS_YEAR: "the year is written with two digits and the mapping declares no year_pivot",
    NUL_CHARACTER: "the value contains a NUL character",
    TOO_LONG: "the value is longer than the column allows",
}

FILE_RULES: dict[str, str] = {
    FILE_EMPTY: "the file has no header or no content",
    FILE_UNREADABLE: "the file cannot be read in a supported format or encoding",
    UNKNOWN_TABLE: "the file name does not name a contract table and no mapping covers it",
    MISSING_COLUMN: "a column the contract requires is not in the file",
    FILE_TOO_LARGE: "a workbook sheet is beyond the row, cell or size limit of .xlsx imports",
}

# Separator between the parts of one error inside the vectorised pipeline:
# "<rule>\x1f<column>\x1f<message>". Values quoted in a message have their control characters
# escaped (normalize.shown), so a \x1f in the data cannot split a message.
SEP = "\x1f"
