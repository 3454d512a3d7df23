// The TLS benchmark's Go client (tools/bench-tls.sh, built there with the
// standard library only): a handshake, then N writes of 200 bytes through
// crypto/tls.(*Conn).Write; prints the CPU seconds (user + system) the
// loop took, as tlsbench.c does.
//
//	tlsbench PORT N
package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

func cpu() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func main() {
	n, _ := strconv.Atoi(os.Args[2])
	c, err := tls.Dial("tcp", "127.0.0.1:"+os.Args[1], &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	line := make([]byte, 200)
	for i := range line {
		line[i] = 'x'
	}
	t0 := cpu()
	for i := 0; i < n; i++ {
		if _, err := c.Write(line); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	fmt.Printf("%.4f\n", cpu()-t0)
	c.Close()
}
