package exporter

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbkit/rdbkit/rdb"
)

// TestHTMLEscaping checks that nothing from the data reaches the page as
// markup: keys (one is "<script>alert(1)</script>", one is not valid
// UTF-8, one holds U+2028) are only in the JSON, escaped for a script
// element, and the title is escaped.
func TestHTMLEscaping(t *testing.T) {
	s := testSummary(t, []int{0, 1, 2, 3, 4, 5, 6, 7})
	var b bytes.Buffer
	if err := s.WriteHTML(&b, `dump<"&>.rdb`); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(strings.ToLower(page), "<script"); n != 2 {
		t.Errorf("%d <script elements, want 2 (the data and the code)", n)
	}
	if n := strings.Count(strings.ToLower(page), "</script"); n != 2 {
		t.Errorf("%d </script, want 2", n)
	}
	for _, bad := range []string{"alert(1)</", "<b>", "\u2028", `dump<"&>`} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q unescaped", bad)
		}
	}
	if !strings.Contains(page, "dump&lt;&#34;&amp;&gt;.rdb") {
		t.Error("title not escaped")
	}
	// Self-contained: nothing to fetch.
	for _, ref := range []string{"src=", "href=", "url(", "@import", "https:"} {
		if strings.Contains(page, ref) {
			t.Errorf("page refers to %q", ref)
		}
	}
	// The embedded data is the JSON report.
	data := embeddedJSON(t, page)
	var js bytes.Buffer
	if err := s.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var want, got any
	json.Unmarshal(js.Bytes(), &want)
	json.Unmarshal([]byte(data), &got)
	if !jsonEqual(want, got) {
		t.Errorf("embedded data differs from WriteJSON:\n%s\n%s", data, js.String())
	}
}

func embeddedJSON(t *testing.T, page string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<script type="application/json" id="data">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no data script in the page")
	}
	return m[1]
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// chromium returns the headless browser to test pages with, or skips
// (fails under CI, where scripts/ensure-chromium.sh installs it).
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a browser")
	}
	for _, name := range []string{os.Getenv("RDBKIT_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found: make test must install it (scripts/ensure-chromium.sh)")
	}
	t.Skip("needs chromium")
	return ""
}

// runChromium loads file in headless Chromium and returns the DOM after the
// scripts ran and the browser's log; with screenshot set it also saves a
// screenshot there.
func runChromium(t *testing.T, bin, file, screenshot string) (dom, log string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0",
		"--window-size=1300,2400"}
	url := "file://" + file
	if screenshot != "" {
		cmd := exec.CommandContext(ctx, bin, append(args, "--screenshot="+screenshot, url)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("chromium --screenshot: %v\n%s", err, out)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append(args, "--dump-dom", url)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium --dump-dom: %v\n%s", err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// TestHTMLChromium renders the report in a real headless Chromium: the
// script runs to its end without an error or a console message, and what
// the page shows matches the JSON report. RDBKIT_HTML_SCREENSHOT=file.png
// keeps a screenshot to look at.
func TestHTMLChromium(t *testing.T) {
	bin := chromium(t)
	t.Run("awkward keys", func(t *testing.T) {
		checkInChromium(t, bin, testSummary(t, []int{0, 1, 2, 3, 4, 5, 6, 7}), os.Getenv("RDBKIT_HTML_SCREENSHOT"))
	})
	t.Run("dump.rdb", func(t *testing.T) {
		data, err := os.ReadFile("../testdata/dump.rdb")
		if err != nil {
			t.Fatal(err)
		}
		r := NewMemoryReport(MemoryReportOptions{Top: 10})
		m := NewMemoryEstimator(MemoryOptions{})
		for k, km := range estimateAll(t, data, 0) {
			db, key, _ := strings.Cut(k, " ")
			n, _ := strconv.Atoi(db)
			e := rdb.Entry{Kind: rdb.KindKey, DB: n, Key: []byte(key), Type: typeOfEncoding(km.Encoding)}
			r.Add(&e, km)
		}
		checkInChromium(t, bin, r.Summary(ModelOf(m)), "")
	})
}

// typeOfEncoding guesses a type for the keys of estimateAll.
func typeOfEncoding(enc string) rdb.Type {
	switch enc {
	case "quicklist":
		return rdb.TypeList
	case "stream":
		return rdb.TypeStream
	case "listpack", "hashtable", "skiplist", "intset":
		return rdb.TypeHash
	}
	return rdb.TypeString
}

// checkInChromium writes the page of s, renders it in Chromium and checks
// it.
func checkInChromium(t *testing.T, bin string, s *MemorySummary, screenshot string) {
	file := filepath.Join(t.TempDir(), "report.html")
	var b bytes.Buffer
	if err := s.WriteHTML(&b, "dump.rdb"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, log := runChromium(t, bin, file, screenshot)
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, ":CONSOLE") || strings.Contains(line, "Uncaught") {
			t.Errorf("browser console: %s", line)
		}
	}
	if !strings.Contains(dom, `data-rendered="ok"`) {
		t.Fatalf("the script did not finish:\n%s", dom)
	}
	if m := regexp.MustCompile(`(?s)<pre id="errors">(.*?)</pre>`).FindStringSubmatch(dom); m == nil || m[1] != "" {
		t.Errorf("page errors: %v", m)
	}
	checkDOM(t, dom, s)
}

// checkDOM compares what the rendered page shows with the summary.
func checkDOM(t *testing.T, dom string, s *MemorySummary) {
	t.Helper()
	text := func(id string) string {
		m := regexp.MustCompile(`id="` + id + `"[^>]*>([^<]*)<`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("no #%s in the page", id)
		}
		return html.UnescapeString(m[1])
	}
	for id, want := range map[string]int64{"sum-keys": s.Keys, "sum-bytes": s.Bytes, "sum-elements": s.Elements, "sum-overhead": s.Overhead} {
		if got := text(id); got != strconv.FormatInt(want, 10) {
			t.Errorf("#%s shows %q, want %d", id, got, want)
		}
	}
	// The biggest keys: a row each, key and numbers as in the report.
	table := regexp.MustCompile(`(?s)<table id="top-bytes">(.*?)</table>`).FindStringSubmatch(dom)
	if table == nil {
		t.Fatal("no top-bytes table")
	}
	cell := regexp.MustCompile(`<td[^>]*data-f="(key|bytes|elements)"[^>]*>([^<]*)</td>`)
	var keys, bytesCol []string
	for _, m := range cell.FindAllStringSubmatch(table[1], -1) {
		switch m[1] {
		case "key":
			keys = append(keys, html.UnescapeString(m[2]))
		case "bytes":
			bytesCol = append(bytesCol, m[2])
		}
	}
	if len(keys) != len(s.TopBytes) || len(bytesCol) != len(s.TopBytes) {
		t.Fatalf("%d key cells, %d byte cells for %d keys", len(keys), len(bytesCol), len(s.TopBytes))
	}
	for i, k := range s.TopBytes {
		want := shownKey(k.Key)
		if keys[i] != want || bytesCol[i] != strconv.FormatInt(k.Bytes, 10) {
			t.Errorf("row %d shows %q %s, want %q %d", i, keys[i], bytesCol[i], want, k.Bytes)
		}
	}
	// The charts carry their numbers.
	for _, g := range append(append([]MemoryGroup{}, s.Types...), s.Expiry...) {
		re := regexp.MustCompile(`data-name="` + regexp.QuoteMeta(g.Name) + `" data-bytes="(\d+)" data-keys="(\d+)"`)
		m := re.FindStringSubmatch(strings.ReplaceAll(dom, "&lt;", "<"))
		if m == nil || m[1] != strconv.FormatInt(g.Bytes, 10) || m[2] != strconv.FormatInt(g.Keys, 10) {
			t.Errorf("chart bar %s: %v, want %d bytes %d keys", g.Name, m, g.Bytes, g.Keys)
		}
	}
	// The treemap's areas add up to the total.
	var sum int64
	for _, m := range regexp.MustCompile(`<g data-prefix="[^"]*" data-bytes="(\d+)"`).FindAllStringSubmatch(dom, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		sum += n
	}
	if sum != s.Bytes {
		t.Errorf("treemap areas add up to %d, want %d", sum, s.Bytes)
	}
}

// shownKey is how the page shows a key: as is when valid UTF-8, else
// quoted with \xNN escapes (the script's keyText).
func shownKey(k []byte) string {
	if s := string(k); isUTF8(s) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range k {
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			b.WriteByte(c)
		} else {
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(c)|0x100, 16)[1:])
		}
	}
	b.WriteByte('"')
	return b.String()
}

func isUTF8(s string) bool { return strings.ToValidUTF8(s, "\x00invalid") == s }
