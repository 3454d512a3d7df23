// A Go HTTPS client for the live TLS tests (tests/live/test_tls_stacks.sh),
// built by the test with the standard library only. It makes one HTTP/1.1
// request to https://127.0.0.1:PORT/ with SNI api.tokenward.test; the extra
// header line "Name: value" is the first line of stdin (a pipe: never argv
// or the environment, which exec events show). It connects only once that
// line has come, so a test can see it mapped before it writes.
//
//	tls_go_client PORT
package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tls_go_client PORT")
		os.Exit(2)
	}
	h, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "api.tokenward.test", InsecureSkipVerify: true}}
	req, err := http.NewRequest("GET", "https://127.0.0.1:"+os.Args[1]+"/", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if h = strings.TrimSpace(h); h != "" {
		kv := strings.SplitN(h, ":", 2)
		if len(kv) == 2 {
			req.Header.Set(strings.TrimSpace(kv[0]), strings.TrimSpace(kv[1]))
		}
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
