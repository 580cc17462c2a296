module github.com/airssys/rt

go 1.26
