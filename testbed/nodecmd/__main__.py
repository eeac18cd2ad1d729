from testbed.nodecmd import main

main()
