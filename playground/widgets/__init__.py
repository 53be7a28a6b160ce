"""The playground's Qt widgets, one file per panel; the logic they show lives in playground/."""
