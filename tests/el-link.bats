#!/usr/bin/env bats
# el-link without a network: usage, bad input, a device that is not there.

setup() {
	export PATH="$BATS_TEST_DIRNAME/../bin:$PATH"
}

@test "usage: --help teaches, bad usage exits 100" {
	run el-link --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: el-link up IFACE"* ]]
	[[ "$output" == *"Examples:"* ]]
	run el-link
	[ "$status" -eq 100 ]
	[[ "$output" == *"subcommand is missing"* ]]
	run el-link up
	[ "$status" -eq 100 ]
	[[ "$output" == *"interface name is missing"* ]]
	run el-link frob wg0
	[ "$status" -eq 100 ]
	run el-link up much-too-long-ifname
	[ "$status" -eq 100 ]
	[[ "$output" == *"is not an interface name"* ]]
	run el-link up wg0 --backend carrier-pigeon
	[ "$status" -eq 100 ]
	run el-link up wg0 --timers rekey_after_time=x
	[ "$status" -eq 100 ]
	[[ "$output" == *"--timers"* ]]
	run el-link up wg0 --timers bogus=1
	[ "$status" -eq 100 ]
}

@test "show, apply and down of a device that is not running: exit 1, clear message" {
	run el-link show elk-none0
	[ "$status" -eq 1 ]
	[[ "$output" == *"elk-none0: not running"* ]]
	run el-link down elk-none0
	[ "$status" -eq 1 ]
	run el-link apply elk-none0 <<< '{"type":"peer","public_key":"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="}'
	[ "$status" -eq 1 ]
}

@test "apply checks every record before it touches the device, naming line and field" {
	run el-link apply elk-none0 <<EOF2
{"type":"peer","public_key":"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=","allowed_ips":["10.0.0.2/32"]}
{"type":"comment","text":"other types pass"}

{"type":"peer","public_key":"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=","allowed_ips":["10.0.0.300/32"]}
EOF2
	[ "$status" -eq 100 ]
	[[ "$output" == *'line 4: allowed_ips[0]: "10.0.0.300/32" is not an IP address or CIDR; nothing applied'* ]]
	run el-link apply elk-none0 <<< '{"type":"iface","listen_port":99999}'
	[ "$status" -eq 100 ]
	[[ "$output" == *"line 1: listen_port: 99999 is out of range"* ]]
	run el-link apply elk-none0 <<< 'not json'
	[ "$status" -eq 100 ]
	[[ "$output" == *"line 1: not JSON"* ]]
}
