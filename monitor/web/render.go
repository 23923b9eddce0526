package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"smtpwatch/monitor/human"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// templates are the pages, each the layout with its own "content".
type templates struct {
	pages map[string]*template.Template
	frags *template.Template // the fragments alone, for live updates
}

var funcs = template.FuncMap{
	"ms":    func(d time.Duration) string { return human.Duration(d) },
	"lower": strings.ToLower,
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, one)
		}
		return fmt.Sprintf("%d %s", n, many)
	},
}

// parseTemplates parses the embedded templates. The daemon calls it at
// the first request, not at start: a dashboard nobody opens costs no
// memory for them.
func parseTemplates() (*templates, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/fragments.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	t := &templates{pages: map[string]*template.Template{}, frags: base}
	entries, err := fs.Glob(templateFS, "templates/page-*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	for _, e := range entries {
		c, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("web: templates: %w", err)
		}
		if _, err := c.ParseFS(templateFS, e); err != nil {
			return nil, fmt.Errorf("web: templates: %w", err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(e, "templates/page-"), ".html")
		t.pages[name] = c
	}
	return t, nil
}

func (s *Server) templates() (*templates, error) {
	s.tmplOnce.Do(func() { s.tmpl, s.tmplErr = parseTemplates() })
	return s.tmpl, s.tmplErr
}

// page is what every page's layout shows.
type page struct {
	Title    string
	Nav      string // "overview", "settings", "account"
	CSRF     string
	Flash    string
	Back     string // this page's path, for forms that come back here
	Settings bool   // the settings pages are there
	Live     bool   // the page follows the event stream
}

func (s *Server) page(r *http.Request, title, nav string) page {
	si := sessionOf(r)
	return page{Title: title, Nav: nav, CSRF: si.csrf, Flash: s.auth.takeFlash(si.id), Back: r.URL.RequestURI(),
		Settings: s.o.ConfigPath != ""}
}

// render writes a page (the layout with name's content) or, with frag,
// one fragment template, status code 200 unless code says otherwise.
func (s *Server) render(w http.ResponseWriter, code int, name string, data any) {
	s.write(w, code, name, "layout", data)
}

func (s *Server) renderFrag(w http.ResponseWriter, frag string, data any) {
	s.write(w, http.StatusOK, "", frag, data)
}

func (s *Server) write(w http.ResponseWriter, code int, name, tmpl string, data any) {
	t, err := s.templates()
	if err != nil {
		s.log.Error("dashboard: templates", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	set := t.frags
	if name != "" {
		set = t.pages[name]
	}
	var b bytes.Buffer
	if set == nil {
		err = fmt.Errorf("no page %q", name)
	} else {
		err = set.ExecuteTemplate(&b, tmpl, data)
	}
	if err != nil {
		s.log.Error("dashboard: rendering", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(writeTimeout))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}

// htmlEscape escapes s for HTML text.
func htmlEscape(s string) string { return template.HTMLEscapeString(s) }
