package web

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"smtpwatch/monitor/history"
	"smtpwatch/monitor/human"
	"smtpwatch/monitor/report"
)

// A chart per phase: the average time of the phase in each stretch of the
// period as a line, the longest single time as a thin mark above it. The
// SVG is drawn here, readable without script, with a title and a
// description for screen readers and, beside it, the same numbers in
// words and in a table.

type chartView struct {
	Phase   string
	SVG     template.HTML
	Summary string // the chart in words
	Rows    []chartRow
}

type chartRow struct {
	When   string
	Checks int
	Mean   string
	Max    string
}

// Geometry of the drawing, in SVG units (it scales to the page's width).
const (
	chartW, chartH       = 600, 150
	plotL, plotR         = 52, 592
	plotT, plotB         = 12, 118
	maxLabelY, axisLabel = 12, 140
)

func charts(bs []history.LatencyBucket, since, until time.Time, width time.Duration, now time.Time) []chartView {
	var out []chartView
	for i, phase := range history.LatencyPhases {
		samples := 0
		for _, b := range bs {
			samples += b.Samples[i]
		}
		if samples == 0 {
			continue
		}
		out = append(out, chart(phase, i, bs, since, until, width, now))
	}
	return out
}

func chart(phase string, i int, bs []history.LatencyBucket, since, until time.Time, width time.Duration, now time.Time) chartView {
	var (
		total     float64
		n         int
		top       time.Duration // the highest average
		topAt     time.Time
		longest   time.Duration
		longestAt time.Time
	)
	for _, b := range bs {
		if b.Samples[i] == 0 {
			continue
		}
		total += float64(b.Mean[i]) * float64(b.Samples[i])
		n += b.Samples[i]
		if b.Mean[i] >= top {
			top, topAt = b.Mean[i], b.Start
		}
		if b.Max[i] >= longest {
			longest, longestAt = b.Max[i], b.Start
		}
	}
	avg := time.Duration(total / float64(n))
	scale := niceCeiling(time.Duration(float64(top) * 1.25))
	x := func(t time.Time) float64 {
		return plotL + float64(plotR-plotL)*float64(t.Sub(since))/float64(until.Sub(since))
	}
	y := func(d time.Duration) float64 {
		v := math.Min(float64(d)/float64(scale), 1)
		return plotB - float64(plotB-plotT)*v
	}

	var svg strings.Builder
	id := "chart-" + phase
	checks := fmt.Sprintf("%d checks", n)
	if n == 1 {
		checks = "1 check"
	}
	summary := fmt.Sprintf("%s: %s on average over %s. The slowest stretch averaged %s (%s); the longest single time was %s (%s).",
		phase, human.Duration(avg), checks, human.Duration(top), report.Clock(topAt, now), human.Duration(longest), report.Clock(longestAt, now))
	fmt.Fprintf(&svg, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d" preserveAspectRatio="none">`, chartW, chartH, id, id)
	fmt.Fprintf(&svg, `<title id="%s-t">Time of the %s phase</title><desc id="%s-d">%s</desc>`, id, template.HTMLEscapeString(phase), id, template.HTMLEscapeString(summary))
	// The frame, the grid lines at the half and the top, and their labels.
	fmt.Fprintf(&svg, `<path class="grid" d="M%d %d H%d M%d %.1f H%d M%d %d H%d"/>`, plotL, plotT, plotR, plotL, float64(plotT+plotB)/2, plotR, plotL, plotB, plotR)
	fmt.Fprintf(&svg, `<text class="label" x="%d" y="%d" text-anchor="end">%s</text>`, plotL-6, plotT+4, template.HTMLEscapeString(human.Duration(scale)))
	fmt.Fprintf(&svg, `<text class="label" x="%d" y="%d" text-anchor="end">0</text>`, plotL-6, plotB+4)
	fmt.Fprintf(&svg, `<text class="label" x="%d" y="%d">%s</text>`, plotL, axisLabel, template.HTMLEscapeString(report.Clock(since, now)))
	fmt.Fprintf(&svg, `<text class="label" x="%d" y="%d" text-anchor="end">%s</text>`, plotR, axisLabel, template.HTMLEscapeString(report.Clock(until, now)))
	// The longest times: a thin mark from the average up.
	svg.WriteString(`<path class="max" d="`)
	for _, b := range bs {
		if b.Samples[i] == 0 || b.Max[i] <= b.Mean[i] {
			continue
		}
		cx := x(b.Start.Add(width / 2))
		fmt.Fprintf(&svg, "M%.1f %.1fV%.1f", cx, y(b.Mean[i]), y(b.Max[i]))
	}
	svg.WriteString(`"/>`)
	// The averages: a line, broken where a stretch had no check.
	svg.WriteString(`<path class="mean" d="`)
	prev := time.Time{}
	for _, b := range bs {
		if b.Samples[i] == 0 {
			continue
		}
		cmd := "L"
		if prev.IsZero() || b.Start.Sub(prev) > width {
			cmd = "M"
		}
		fmt.Fprintf(&svg, "%s%.1f %.1f", cmd, x(b.Start.Add(width/2)), y(b.Mean[i]))
		prev = b.Start
	}
	svg.WriteString(`"/>`)
	// A lone point has no line: a dot shows it.
	for k, b := range bs {
		if b.Samples[i] == 0 {
			continue
		}
		alone := (k == 0 || bs[k-1].Samples[i] == 0 || b.Start.Sub(bs[k-1].Start) > width) &&
			(k == len(bs)-1 || bs[k+1].Samples[i] == 0 || bs[k+1].Start.Sub(b.Start) > width)
		if alone {
			fmt.Fprintf(&svg, `<circle class="dot" cx="%.1f" cy="%.1f" r="2.5"/>`, x(b.Start.Add(width/2)), y(b.Mean[i]))
		}
	}
	svg.WriteString(`</svg>`)

	v := chartView{Phase: phase, SVG: template.HTML(svg.String()), Summary: summary}
	for _, b := range bs {
		if b.Samples[i] == 0 {
			continue
		}
		v.Rows = append(v.Rows, chartRow{When: report.Clock(b.Start, now), Checks: b.Samples[i],
			Mean: human.Duration(b.Mean[i]), Max: human.Duration(b.Max[i])})
	}
	return v
}

// niceCeiling rounds d up to 1, 2 or 5 times a power of ten milliseconds,
// at least 1 ms.
func niceCeiling(d time.Duration) time.Duration {
	ms := float64(d) / float64(time.Millisecond)
	if ms <= 1 {
		return time.Millisecond
	}
	p := math.Pow(10, math.Floor(math.Log10(ms)))
	for _, m := range []float64{1, 2, 5, 10} {
		if ms <= m*p {
			return time.Duration(m * p * float64(time.Millisecond))
		}
	}
	return time.Duration(10 * p * float64(time.Millisecond))
}
