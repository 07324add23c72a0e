from canhbao.cli import main

main()
