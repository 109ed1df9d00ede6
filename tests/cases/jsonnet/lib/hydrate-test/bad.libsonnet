{
  explode(when)::
    assert when == 'later' : 'explode() called too early: ' + when;
    {},
}
