"""Places of Jinshan: residential communities and their buildings, villages."""
