"""Known false claims and their official rebuttals: the library, matching posts against it, and
what gets published (issue: claims). Matching is pure (`index`, `fusion`); stores and importers
are the edges."""
