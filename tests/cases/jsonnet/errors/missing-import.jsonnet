local nothing = import 'no/such.libsonnet';

nothing
