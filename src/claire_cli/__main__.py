from claire_cli.app import main

main()
