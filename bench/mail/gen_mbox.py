#!/usr/bin/env python3
"""Write an mbox of N messages for the mail gateway benchmark.

Twenty senders (user01..user20@example.com, registered in the tracker by
run.sh) open issues and reply to them: every fourth message opens a new
issue ("[issue] ..."), the others follow up on a random earlier one by
designator ("Re: [issueN] ..."), some with a subject suffix changing the
status, some with a small text attachment. Replies quote the previous
text and carry a signature, so that the gateway's body rules run.

    gen_mbox.py N OUT [FIRST_ISSUE_ID]
"""
import random
import sys

WORDS = ("printer toner network login password email server backup disk "
         "report invoice meeting deadline upgrade install crash error slow "
         "screen keyboard mouse license database query timeout").split()


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    first = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rng = random.Random(42)
    issues = []
    with open(out, "w") as f:
        for i in range(n):
            sender = "user%02d" % rng.randint(1, 20)
            msgid = "<bench-%d@example.com>" % i
            if i % 4 == 0 or not issues:
                title = sentence(rng, 5)[:-1]
                issues.append(title)
                subject = "[issue] %s" % title
                if rng.random() < 0.3:
                    subject += " [priority=urgent]"
            else:
                k = rng.randrange(len(issues))
                subject = "Re: [issue%d] %s" % (first + k, issues[k])
                if rng.random() < 0.2:
                    subject += " [status=%s]" % rng.choice(
                        ["chatting", "in-progress", "testing", "resolved"])
            body = "\n".join(sentence(rng, rng.randint(6, 14)) for _ in range(3))
            body += "\n\nOn Monday someone wrote:\n> %s\n\n-- \n%s\n" % (
                sentence(rng, 8), sender)
            headers = ("From: %s <%s@example.com>\nTo: issue_tracker@example.com\n"
                       "Subject: %s\nMessage-Id: %s\n"
                       "Date: Sat, 05 Dec 2026 10:00:00 +0000\nMIME-Version: 1.0\n"
                       % (sender.capitalize(), sender, subject, msgid))
            if rng.random() < 0.1:
                msg = (headers + "Content-Type: multipart/mixed; boundary=b\n\n"
                       "--b\nContent-Type: text/plain; charset=utf-8\n\n%s\n"
                       "--b\nContent-Type: text/plain; name=log.txt\n"
                       "Content-Disposition: attachment; filename=log.txt\n\n%s\n--b--\n"
                       % (body, "\n".join(sentence(rng, 10) for _ in range(20))))
            else:
                msg = headers + "Content-Type: text/plain; charset=utf-8\n\n" + body
            f.write("From %s@example.com Sat Dec  5 10:00:00 2026\n" % sender)
            f.write(msg.replace("\nFrom ", "\n>From "))
            f.write("\n")


if __name__ == "__main__":
    main()
