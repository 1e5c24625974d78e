"""Named exceptions. The CLI turns each into one line on stderr and a non-zero exit."""


class VerifyError(Exception):
    """Base class: a problem the user can fix, reported without a traceback."""

    exit_code = 2


class InputError(VerifyError):
    """A file or argument that cannot be used as given (missing, empty, binary, malformed)."""


class ModelError(VerifyError):
    """A model directory that is missing, damaged or not of the expected kind."""


class CorpusError(VerifyError):
    """The database cannot be used (newer schema, unknown ids, nothing to check against)."""
