from bnpl_assistant.cli import main

main()
