// Command printversion prints buildinfo.Version(); TestLinkFlags builds it.
package main

import (
	"fmt"

	"github.com/dialq/dialq/internal/buildinfo"
)

func main() { fmt.Println(buildinfo.Version()) }
