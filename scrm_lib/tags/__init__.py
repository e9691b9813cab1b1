"""Person tags: one registry, one mart (``person_tags``), segment filters and surfaces.

A capability declares its tags (:func:`~scrm_lib.tags.registry.declare_tag`) and
writes them from its build step (:func:`~scrm_lib.tags.registry.write_tags`);
tags read off marts already built (lifecycle stage, dormant, high churn risk) are
written by the tags package itself at the end of the build. See
:mod:`scrm_lib.tags.registry`.
"""

from scrm_lib._api import public

__all__, __getattr__, __dir__ = public(
    __name__,
    {
        "Tag": ".registry:Tag",
        "declare_tag": ".registry:declare_tag",
        "write_tags": ".registry:write_tags",
        "person_tags": ".registry:person_tags",
        "tag_summary": ".registry:tag_summary",
    },
)
