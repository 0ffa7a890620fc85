module github.com/wsevents/wsevents/conformance

go 1.26
