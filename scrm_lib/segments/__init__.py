"""Segments: definitions over the person marts, saved versions, audience exports, cli."""

from scrm_lib._api import public

__all__, __getattr__, __dir__ = public(
    __name__,
    {
        "segment_preview": ".definitions:preview",
        "segment_members": ".definitions:segment_members",
        "save_segment": ".definitions:save_segment",
        "list_segments": ".definitions:list_segments",
        "export_segment": ".definitions:export_segment",
    },
)
