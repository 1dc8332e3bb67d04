"""`make bench`: performance figures for slychat, as medians and same-session ratios."""
