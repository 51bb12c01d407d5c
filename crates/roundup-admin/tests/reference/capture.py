#!/opt/rvenv/bin/python
"""Record what Roundup 2.6's roundup-admin prints, as reference transcripts.

Run as an unprivileged user (Roundup refuses root for some things), e.g.
    su rt -c '/opt/rvenv/bin/python capture.py OUTDIR WORKDIR'
Each scenario starts from an empty WORKDIR/<scenario> tracker home and runs
its steps in order; the transcript records for every step the exact
command line, stdin, stdout, exit status and a comparison mode for the
Rust tests (see tests/it/reference.rs for the file format).
"""
import os
import shlex
import shutil
import subprocess
import sys

ADMIN = "/opt/rvenv/bin/roundup-admin"

# A step: (args, options). Options: stdin (text), env (dict), mode
# ("exact", "error", "rc": exit code only, "prose": exit code + first line,
# "unordered": the same lines in any order, "shell": the interactive shell's
# output after its three banner lines, help texts after "Usage:" left out).
SETUP = [
    (["-i", "$TRACKER", "install", "classic", "sqlite", "mail_domain=example.com"], {"mode": "rc"}),
    (["-i", "$TRACKER", "initialise", "admin"], {}),
]

T = ["-i", "$TRACKER"]

SCENARIOS = {
    "install": [
        (["-i", "$TRACKER", "install", "classic", "sqlite", "mail_domain=example.com"], {"mode": "rc"}),
        (["-i", "$TRACKER", "initialise", "admin"], {}),
        (["-i", "$TRACKER", "install", "classic", "sqlite"], {"stdin": "n\n", "mode": "rc"}),
        (["-i", "$TRACKER", "initialise", "admin"], {"stdin": "n\n", "mode": "rc"}),
        (["-i", "$TRACKER", "list", "user"], {}),
        (["-i", "$TRACKER", "initialise", "secret"], {"stdin": "y\n", "mode": "rc"}),
        (["-i", "$TRACKER", "list", "user"], {}),
        (["-i", "/nonexistent/dir/x", "install", "classic", "sqlite"], {}),
        (["-i", "$TRACKER/nothere", "initialise", "admin"], {}),
        (["-i", "$TRACKER/nothere", "list", "user"], {"mode": "rc"}),
    ],
    "listing": SETUP + [
        (T + ["list", "status"], {}),
        (T + ["list", "status", "name"], {}),
        (T + ["list", "status", "order"], {}),
        (T + ["-c", "list", "status"], {}),
        (T + ["-c", "list", "status", "name"], {}),
        (T + ["-s", "list", "priority"], {}),
        (T + ["-S", ":", "list", "priority", "name"], {}),
        (T + ["-d", "list", "status"], {}),
        (T + ["list", "user"], {}),
        (T + ["l", "keyword"], {}),
        (["list", "priority"], {"env": {"TRACKER_HOME": "$TRACKER"}}),
        (T + ["table", "status"], {}),
        (T + ["table", "status", "id,name:4,order:"], {}),
        (T + ["table", "priority", "name,order"], {}),
        (T + ["table", "user", "id,username,roles,address"], {}),
        (T + ["specification", "issue"], {}),
        (T + ["specification", "user"], {}),
        (T + ["-P", "display_protected=1", "specification", "issue"], {}),
        (T + ["display", "status1"], {}),
        (T + ["display", "user2"], {}),
        (T + ["-P", "display_header=1", "display", "status1,user1"], {}),
        (T + ["-P", "display_protected=1", "display", "user1"], {}),
        (T + ["get", "name", "status1,status2"], {}),
        (T + ["get", "username", "user1"], {}),
        (T + ["security"], {}),
        (T + ["security", "User"], {}),
        (T + ["security", "anonymous"], {}),
        (T + ["security", "Nobody"], {}),
    ],
    "editing": SETUP + [
        (T + ["create", "issue", "title=hello world", "priority=bug"], {}),
        (T + ["create", "issue", "title=second", "assignedto=admin", "priority=2"], {}),
        (T + ["create", "user", "username=demo", "address=demo@example.com", "roles=User", "realname=Demo User"], {}),
        (T + ["get", "title", "issue1"], {}),
        (T + ["get", "priority", "issue1"], {}),
        (T + ["get", "nosy", "issue1"], {}),
        (T + ["get", "nosy", "issue2"], {}),
        (T + ["-d", "get", "nosy", "issue2"], {}),
        (T + ["-c", "get", "nosy", "issue2"], {}),
        (T + ["-d", "get", "priority", "issue1"], {}),
        (T + ["get", "title", "issue1,issue2"], {}),
        (T + ["history", "issue1"], {}),
        (T + ["history", "issue1", "raw"], {}),
        (T + ["history", "issue2"], {}),
        (T + ["set", "issue1", "status=chatting", "nosy=+anonymous"], {}),
        (T + ["set", "issue1", "assignedto=demo"], {}),
        (T + ["get", "nosy", "issue1"], {}),
        (T + ["history", "issue1"], {}),
        (T + ["history", "issue1", "skipquiet"], {}),
        (T + ["history", "issue1", "raw"], {}),
        (T + ["set", "issue1,issue2", "priority=critical"], {}),
        (T + ["set", "issue2", "assignedto="], {}),
        (T + ["get", "assignedto", "issue2"], {}),
        (T + ["set", "issue2", "nosy=-admin"], {}),
        (T + ["set", "keyword", "name=x"], {}),
        (T + ["create", "keyword", "name=k1"], {}),
        (T + ["create", "keyword", "name=k2"], {}),
        (T + ["set", "keyword", "name=k3"], {"mode": "rc"}),
        (T + ["list", "keyword"], {"mode": "rc"}),
        (T + ["display", "issue1"], {}),
        (T + ["find", "issue", "priority=critical"], {}),
        (T + ["find", "issue", "priority=bug,critical"], {}),
        (T + ["-d", "find", "issue", "priority=critical"], {}),
        (T + ["-c", "find", "issue", "priority=critical"], {}),
        (T + ["find", "issue", "assignedto=demo", "nosy=admin"], {}),
        (T + ["find", "issue", "nosy=anonymous"], {}),
        (T + ["find", "issue"], {}),
        (T + ["filter", "issue", "title=hello"], {}),
        (T + ["filter", "issue", "title=world,hello"], {}),
        (T + ["filter", "issue", "priority=bug,critical"], {}),
        (T + ["-s", "filter", "issue", "status=chatting"], {}),
        (T + ["filter", "issue", "assignedto.username=demo"], {}),
        (T + ["-d", "filter", "issue", "nosy=admin"], {}),
        (T + ["-c", "filter", "user", "username=demo"], {}),
        (T + ["filter", "issue"], {}),
        (T + ["retire", "issue1"], {}),
        (T + ["list", "issue"], {}),
        (T + ["-P", "show_retired=both", "list", "issue"], {}),
        (T + ["-P", "show_retired=only", "table", "issue", "id,title"], {}),
        (T + ["-P", "show_retired=only", "-c", "list", "issue"], {}),
        (T + ["find", "issue", "priority=critical"], {}),
        (T + ["restore", "issue1"], {}),
        (T + ["history", "issue1"], {}),
        (T + ["-u", "demo", "set", "issue1", "title=by demo"], {}),
        (T + ["-u", "demo:whatever", "create", "keyword", "name=k4"], {}),
        (T + ["history", "issue1"], {}),
        (T + ["get", "creator", "keyword4"], {}),
        (T + ["set", "issue1", "title="], {}),
        (T + ["get", "title", "issue1"], {}),
        (T + ["create", "issue", "title=third", "nosy=demo,admin"], {}),
        (T + ["get", "nosy", "issue3"], {}),
        (T + ["retire", "issue2,issue3"], {}),
        (T + ["list", "issue"], {}),
        (T + ["restore", "issue2,issue3"], {}),
        (T + ["list", "issue"], {}),
    ],
    "errors": SETUP + [
        (T + ["foo"], {}),
        (T + ["s"], {}),
        (T + ["re"], {}),
        (T + ["list"], {}),
        (T + ["list", "foo"], {}),
        (T + ["list", "status", "foo"], {}),
        (T + ["list", "status", "name", "x"], {}),
        (T + ["-c", "list", "status", "foo"], {}),
        (T + ["get"], {}),
        (T + ["get", "name"], {}),
        (T + ["get", "name", "status99"], {}),
        (T + ["get", "name", "foo1"], {}),
        (T + ["get", "name", "xyz"], {}),
        (T + ["get", "foo", "status1"], {}),
        (T + ["-d", "get", "name", "status1"], {}),
        (T + ["display"], {}),
        (T + ["display", "foo1"], {}),
        (T + ["display", "status99"], {}),
        (T + ["display", "xyz"], {}),
        (T + ["create"], {}),
        (T + ["create", "foo"], {}),
        (T + ["create", "status", "name="], {}),
        (T + ["create", "status", "order=abc", "name=x"], {}),
        (T + ["create", "issue", "title=x", "priority=nonexist"], {}),
        (T + ["create", "issue", "foo=bar", "title=x"], {}),
        (T + ["create", "issue", "titlex"], {}),
        (T + ["create", "status", "order=1"], {}),
        (T + ["create", "status", "name=unread"], {}),
        (T + ["set"], {}),
        (T + ["set", "status1"], {}),
        (T + ["set", "status1", "order=abc"], {}),
        (T + ["set", "status99", "order=3"], {}),
        (T + ["set", "status1", "foo=3"], {}),
        (T + ["set", "status1,xyz", "name=3"], {}),
        (T + ["set", "foo", "name=3"], {}),
        (T + ["set", "status1", "name"], {}),
        (T + ["find"], {}),
        (T + ["find", "foo"], {}),
        (T + ["find", "issue", "title=hello"], {}),
        (T + ["find", "issue", "priority=nonexist"], {}),
        (T + ["find", "issue", "foo=1"], {}),
        (T + ["filter"], {}),
        (T + ["filter", "foo"], {}),
        (T + ["filter", "issue", "foo=1"], {}),
        (T + ["filter", "issue", "priority=nonexist"], {}),
        (T + ["filter", "issue", "assignedto.foo=admin"], {}),
        (T + ["retire"], {}),
        (T + ["retire", "foo1"], {}),
        (T + ["retire", "xyz"], {}),
        (T + ["restore"], {}),
        (T + ["restore", "issue99"], {}),
        (T + ["restore", "foo1"], {}),
        (T + ["history"], {}),
        (T + ["history", "issue99"], {}),
        (T + ["history", "foo1"], {}),
        (T + ["history", "user1", "bogus"], {}),
        (T + ["specification"], {}),
        (T + ["specification", "foo"], {}),
        (T + ["table"], {}),
        (T + ["table", "foo"], {}),
        (T + ["table", "status", "foo"], {}),
        (T + ["table", "status", "name:x"], {}),
        (T + ["table", "status", "name:3:4"], {}),
        (T + ["security", "Nobody"], {}),
        (T + ["-S"], {"mode": "prose"}),
        (T + ["-x", "list"], {"mode": "prose"}),
        (T + ["-c", "-s", "list", "status"], {"mode": "prose"}),
        (T + ["-P", "bogus=1", "list", "priority"], {}),
        (T + ["-P", "show_retired=maybe", "list", "priority"], {}),
        (T + ["-P", "display_header=perhaps", "list", "priority"], {}),
        (T + ["-P", "nonsense", "list", "priority"], {}),
        (["-i", "$TRACKER/../no-such-tracker", "list", "user"], {"mode": "rc"}),
    ],
    "maint": SETUP + [
        (T + ["create", "issue", "title=hello world"], {}),
        (T + ["commit"], {}),
        (T + ["rollback"], {}),
        (T + ["migrate"], {}),
        (T + ["pack", "1y"], {}),
        (T + ["pack", "2001-01-01"], {}),
        (T + ["pack"], {}),
        (T + ["pack", "1y", "2y"], {}),
        (T + ["pack", "soon"], {}),
        (T + ["reindex", "issue1"], {}),
        (T + ["reindex", "issue99"], {}),
        (T + ["reindex", "nosuch"], {}),
        (T + ["reindex"], {"mode": "rc"}),
        (T + ["reindex", "issue"], {"mode": "rc"}),
        (T + ["reindex", "issue:1-3"], {"mode": "rc"}),
        (T + ["perftest", "rounds=999"], {}),
        (T + ["perftest", "rounds=many"], {}),
        (T + ["perftest", "scheme="], {}),
        (T + ["perftest", "password", "rounds=1,000"], {"mode": "rc"}),
        (T + ["perftest"], {}),
        (T + ["readline", "vi"], {}),
        (T + ["readline", "emacs"], {}),
        (T + ["readline", "bogus"], {}),
        (T + ["readline", "history"], {}),
        (T + ["export"], {}),
        (T + ["export", "nosuch", "$TRACKER/../exp-bad"], {}),
        (T + ["export", "$TRACKER/../exp"], {"mode": "rc"}),
        (T + ["exporttables", "issue,msg", "$TRACKER/../expt"], {"mode": "rc"}),
        (T + ["import"], {}),
        (T + ["import", "$TRACKER/../no-such-export"], {}),
        (T + ["import", "$TRACKER/../exp"], {"mode": "unordered"}),
        (T + ["importtables", "$TRACKER/../expt"], {"mode": "unordered"}),
        (T + ["list", "issue"], {}),
        (["genconfig", "$TRACKER/../gen.ini"], {}),
        (["genconfig"], {}),
        (T + ["updateconfig", "$TRACKER/../upd.ini"], {}),
        (T + ["updateconfig"], {}),
    ],
    "shell": SETUP + [
        (T, {"stdin": "list status\ncreate keyword name=a\nexit\ny\n", "mode": "shell"}),
        (T + ["list", "keyword"], {}),
        (T, {"stdin": "create keyword name=b\nquit\nn\n", "mode": "shell"}),
        (T, {"stdin": "create keyword name=c\n", "mode": "traceback"}),
        (T, {"stdin": "create keyword name=d\ncommit\nexit\n", "mode": "shell"}),
        (T + ["list", "keyword"], {}),
        (T, {"stdin": "get name status99\nget name status1\nrollback\nq\n", "mode": "shell"}),
    ],
    "help": [
        (["-h"], {"mode": "rc"}),
        (["help"], {"mode": "rc"}),
        (["help", "commands"], {"mode": "rc"}),
        (["help", "all"], {"mode": "rc"}),
        (["help", "list"], {"mode": "prose"}),
        (["help", "li"], {"mode": "prose"}),
        (["help", "re"], {"mode": "rc"}),
        (["help", "foo"], {"mode": "rc"}),
        (["-v"], {"mode": "rc"}),
        (["templates"], {"mode": "rc"}),
    ],
}


def quote(args):
    return " ".join(shlex.quote(a) if a != "$TRACKER" and not a.startswith("$TRACKER/") else a
                    for a in args)


def run(outdir, workdir, name, steps):
    home = os.path.join(workdir, name)
    if os.path.exists(home):
        shutil.rmtree(home)
    lines = ["# Roundup 2.6.0 roundup-admin transcript, scenario %r." % name,
             "# Recorded by capture.py; $TRACKER stands for the scenario's tracker home.", ""]
    for args, opts in steps:
        real = [a.replace("$TRACKER", home) for a in args]
        env = dict(os.environ)
        env.pop("TRACKER_HOME", None)
        env.pop("ROUNDUP_LOGIN", None)
        for k, v in opts.get("env", {}).items():
            env[k] = v.replace("$TRACKER", home)
        stdin = opts.get("stdin", "")
        p = subprocess.run([ADMIN] + real, input=stdin.encode(), capture_output=True,
                           env=env, cwd=workdir)
        out = p.stdout.decode().replace(home, "$TRACKER")
        err = p.stderr.decode().replace(home, "$TRACKER")
        mode = opts.get("mode")
        if mode is None:
            if "Traceback" in err:
                mode = "traceback"
            elif out.startswith("\nError: "):
                mode = "error"
            else:
                mode = "exact"
        lines.append("### cmd: roundup-admin " + quote(args))
        for k, v in opts.get("env", {}).items():
            lines.append("### env: %s=%s" % (k, v))
        if stdin:
            lines.append("### stdin: " + stdin.encode("unicode_escape").decode())
        lines.append("### mode: " + mode)
        lines.append("### exit: %d" % p.returncode)
        if err and mode != "traceback":
            for e in err.splitlines():
                lines.append("### stderr: " + e)
        if mode == "traceback":
            lines.append("### stderr: " + err.strip().splitlines()[-1])
        lines.append("### stdout:")
        if out:
            if out.endswith("\n"):
                lines.append(out[:-1])
            else:
                lines.append(out)
                lines.append("### no newline at end")
        lines.append("### end")
    with open(os.path.join(outdir, name + ".txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    outdir, workdir = sys.argv[1], sys.argv[2]
    only = sys.argv[3:]
    for name, steps in SCENARIOS.items():
        if not only or name in only:
            run(outdir, workdir, name, steps)


if __name__ == "__main__":
    main()
