package probe

import "testing"

// Every cause has a short label and a status; warnings are degraded.
func TestCauseVocabulary(t *testing.T) {
	seen := map[string]Cause{}
	for _, c := range AllCauses {
		s := c.Short()
		if s == string(c) {
			t.Errorf("%s has no short text", c)
		}
		if o, dup := seen[s]; dup {
			t.Errorf("%s and %s share the short text %q", c, o, s)
		}
		seen[s] = c
		if c.IsWarning() != (c.Status() == StatusDegraded) {
			t.Errorf("%s: warning %v but status %s", c, c.IsWarning(), c.Status())
		}
	}
	if len(shortText) != len(AllCauses) {
		t.Errorf("%d short texts for %d causes", len(shortText), len(AllCauses))
	}
}

// Every cause has its own explainer, and no explainer is for an unknown
// cause: a new cause cannot fall back to printing a bare detail.
func TestEveryCauseExplained(t *testing.T) {
	for _, c := range AllCauses {
		if explainers[c] == nil {
			t.Errorf("%s has no explainer", c)
		}
	}
	if len(explainers) != len(AllCauses) {
		t.Errorf("%d explainers for %d causes", len(explainers), len(AllCauses))
	}
}
