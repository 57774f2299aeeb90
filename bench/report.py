"""The bench's figures and targets: each target is checked in code, PASS or MISS is printed next
to the figure as it is measured, and summary() prints every figure again in one table."""

MISS_MARK = "   <<<<<<<< MISS"


class Report:
    def __init__(self):
        self.rows = []  # (figure, value, target, verdict)

    def figure(self, name, value, target="", ok=None, indent="   "):
        """Print and record one figure. ok: True/False for a target, None for information only;
        value None means it could not be measured (a MISS if it had a target)."""
        if value is None:
            verdict = "MISS" if target else "n/a"
            value = "not measured"
        else:
            verdict = "info" if ok is None else ("PASS" if ok else "MISS")
        self.rows.append((name, value, target, verdict))
        line = "%s%-50s %-22s %-26s %s" % (indent, name, value, ("target " + target) if target else "", verdict)
        print(line.rstrip() + (MISS_MARK if verdict == "MISS" else ""))

    def summary(self):
        print("\nSummary (every figure; MISS lines are marked %s)" % MISS_MARK.strip())
        w = max(len(r[0]) for r in self.rows) if self.rows else 10
        print("   %-*s  %-22s  %-22s  %s" % (w, "figure", "value", "target", "verdict"))
        for name, value, target, verdict in self.rows:
            line = "   %-*s  %-22s  %-22s  %s" % (w, name, value, target or "-", verdict)
            print(line + (MISS_MARK if verdict == "MISS" else ""))
        misses = sum(1 for r in self.rows if r[3] == "MISS")
        passes = sum(1 for r in self.rows if r[3] == "PASS")
        print("   %d PASS, %d MISS" % (passes, misses))
