"""Ingest: read one raw export file into canonical frames plus rejects.

The contract with the rest of scrm (the warehouse build calls only these):

- ``detect_format(path) -> str``: the preset name of a file, found from its
  header row / first record (raises ``InputFileError`` naming the file when
  no preset matches).
- ``parse_file(path, *, preset=None, settings=None) -> ParsedFile``.
- ``list_presets() -> list[str]``.
- ``suggest_preset(path) -> PresetSuggestion``: a draft preset TOML for a
  file no preset reads (:mod:`.suggest`).

A ``ParsedFile`` holds, for one file, frames already conformed to the
canonical schemas (``scrm_lib.schema.conform``) and the rejected rows.
Every input row is either accepted (it contributes to at least one table)
or rejected (at least one line in ``rejects`` names it): ``rows_in ==
accepted + rejected``.

Modules: :mod:`.read` (bytes to string cells), :mod:`.normalize` (phones,
times, money, text), :mod:`.presets` (TOML column maps), :mod:`.detect`,
:mod:`.base` (shared adapter plumbing) and one adapter per source
(:mod:`.tmall`, :mod:`.douyin`, :mod:`.youzan`, :mod:`.wechat`,
:mod:`.wecom`, :mod:`.marketing`, :mod:`.generic`).
"""

from scrm_lib._api import public

__all__, __getattr__, __dir__ = public(
    __name__,
    {
        "ParsedFile": ".files",
        "parse_file": ".files",
        "detect_format": ".files",
        "list_presets": ".files",
        "suggest_preset": ".files",
        "add_files": ".raw_area",
    },
)
