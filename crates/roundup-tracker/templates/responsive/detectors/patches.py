# Optional helpers for patches attached to bugs. Not switched on; to use
# them, register them in init():
#     db.file.audit("create", patch_as_text)
#     db.bug.audit("create", mark_patch)
#     db.bug.audit("set", mark_patch)

PATCH_SUFFIXES = [".diff", ".patch"]
SOURCE_SUFFIXES = [".diff", ".patch", ".py"]

def has_suffix(name, suffixes):
    name = name or ""
    for s in suffixes:
        if name.endswith(s):
            return True
    return False

def patch_as_text(db, cl, nodeid, newvalues):
    """Patches and Python sources are plain text, whatever the browser said."""
    if has_suffix(newvalues.get("name"), SOURCE_SUFFIXES):
        newvalues["type"] = "text/plain"

def mark_patch(db, cl, nodeid, newvalues):
    """Add the keyword "patch" when a new attachment is a patch."""
    files = newvalues.get("files") or []
    old_files = db.bug.get(nodeid, "files") if nodeid else []
    added = [f for f in files if f not in old_files]
    if not [f for f in added if has_suffix(db.file.get(f, "name"), PATCH_SUFFIXES)]:
        return
    patch = db.keyword.lookup("patch")
    keywords = newvalues.get("keywords")
    if keywords is None:
        keywords = db.bug.get(nodeid, "keywords") if nodeid else []
    if patch not in keywords:
        newvalues["keywords"] = list(keywords) + [patch]

def init(db):
    pass
