package source

import (
	"slices"
	"strings"
	"testing"
)

func TestParseClusterNodes(t *testing.T) {
	const a, b, c = "aaaa", "bbbb", "cccc"
	text := strings.Join([]string{
		b + " 127.0.0.1:7001@17001 master - 0 1 2 connected 5461-10922 [5461->-" + c + "]",
		"rrrr 127.0.0.1:7004@17004 slave " + a + " 0 1 1 connected",
		a + " :7000@17000,node-a myself,master - 0 0 1 connected 0-5460",
		c + " 10.0.0.3:7002@17002 master - 0 1 3 connected 10923-16000 16001 16002-16383",
		"eeee 10.0.0.4:7005@17005 master - 0 1 4 connected",
	}, "\n") + "\n"
	got, err := parseClusterNodes(text, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	want := []Master{
		{ID: a, Endpoint: Endpoint{Addr: "192.0.2.1:7000"}, Slots: [][2]int{{0, 5460}}},
		{ID: b, Endpoint: Endpoint{Addr: "127.0.0.1:7001"}, Slots: [][2]int{{5461, 10922}}},
		{ID: c, Endpoint: Endpoint{Addr: "10.0.0.3:7002"}, Slots: [][2]int{{10923, 16000}, {16001, 16001}, {16002, 16383}}},
	}
	if !slices.EqualFunc(got, want, func(x, y Master) bool {
		return x.ID == y.ID && x.Endpoint == y.Endpoint && slices.Equal(x.Slots, y.Slots)
	}) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestParseClusterNodesRefusesPartialLayouts(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"gap", "a 127.0.0.1:7000@17000 master - 0 0 1 connected 0-99 200-16383\n", "slots 100-199 are served by no master"},
		{"single gap", "a 127.0.0.1:7000@17000 master - 0 0 1 connected 0-99 101-16383\n", "slots 100 are served"},
		{"failing master", "a 127.0.0.1:7000@17000 master,fail - 0 0 1 connected 0-16383\n", "failing"},
		{"bad range", "a 127.0.0.1:7000@17000 master - 0 0 1 connected 0-16384\n", `bad slot range "0-16384"`},
		{"bad address", "a 127.0.0.1@17000 master - 0 0 1 connected 0-16383\n", "bad address"},
		{"short line", "a 127.0.0.1:7000@17000 master\n", "unexpected line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseClusterNodes(tc.text, "h")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}
